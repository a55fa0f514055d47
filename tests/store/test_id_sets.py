"""Id sets and text arrays as one parameter: the server reads back exactly what was sent."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text

from retention.store import Candidate, among, connect, text_array, uuid_array
from retention.testing import DatabaseFactory


def test_text_array_round_trips_quotes_backslashes_nulls_and_separators(
    pg_factory: DatabaseFactory,
) -> None:
    values = ['say "hi"', "back\\slash", None, "NULL", "a,b", "{braces}", " spaced ", "", "Ωμέγα"]
    engine = connect(pg_factory.migrated())
    try:
        with engine.connect() as conn:
            got = conn.execute(
                text("SELECT CAST(:a AS text[])"), {"a": text_array(values)}
            ).scalar_one()
        assert got == values
    finally:
        engine.dispose()


def test_uuid_array_round_trips_every_id_in_order(pg_factory: DatabaseFactory) -> None:
    engine = connect(pg_factory.migrated())
    cases = [[], [uuid.UUID(int=0)], [uuid.UUID(int=2**128 - 1), uuid.uuid4()]]
    cases.append([uuid.uuid4() for _ in range(2000)])
    try:
        with engine.connect() as conn:
            for ids in cases:
                got = conn.execute(
                    text("SELECT CAST(:a AS uuid[])"), {"a": uuid_array(ids)}
                ).scalar_one()
                assert got == ids
    finally:
        engine.dispose()


def test_among_matches_exactly_the_given_ids(db_factory: DatabaseFactory) -> None:
    engine = connect(db_factory.migrated())
    c = Candidate.__table__.c
    ids = [uuid.uuid4() for _ in range(3)]
    try:
        with engine.begin() as conn:
            conn.execute(
                Candidate.__table__.insert(),
                [{"id": i, "country": "NL", "status": "rejected"} for i in ids],
            )
            for wanted in ([], ids[:1], ids[1:], [uuid.uuid4(), ids[2]]):
                found = conn.execute(select(c.id).where(among(conn, c.id, wanted))).scalars()
                assert set(found) == set(wanted) & set(ids)
    finally:
        engine.dispose()
