"""Scratch tables mirroring candidate and consent, for the policy SQL tests and the benchmark.

Kept beside the tests (not in policies/, which owns no tables): the same shape retention's
migrated tables have, enough to run the compiled SQL against real SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from policies import ColumnMap, PolicySet, consent_needed, join_latest_consents, purposes_used
from policies.records import Record
from policies.sql_compiler import decision_select
from policies.sql_time import NaiveUTC
from retention.store import connect

metadata = sa.MetaData()
candidate = sa.Table(
    "policy_candidate",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("country", sa.String(2)),
    sa.Column("status", sa.String(20)),
    sa.Column("applied_at", NaiveUTC()),
    sa.Column("decided_at", NaiveUTC()),
    sa.Column("last_activity_at", NaiveUTC()),
)
consent = sa.Table(
    "policy_consent",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("candidate_id", sa.String(36)),
    sa.Column("purpose", sa.String(40)),
    sa.Column("given_at", NaiveUTC()),
    sa.Column("expires_at", NaiveUTC()),
    sa.Column("withdrawn_at", NaiveUTC()),
    # The index the latest-consent anti-join needs (retention's consent table wants the same).
    sa.Index("ix_policy_consent_latest", "candidate_id", "purpose", "given_at"),
)


def store(conn: sa.Connection, records: Iterable[Record]) -> None:
    """Replace the table contents with these records (consents in list order, ids ascending)."""
    conn.execute(consent.delete())
    conn.execute(candidate.delete())
    rows, consents = [], []
    for r in records:
        rows.append(
            {
                "id": r.id,
                "country": r.country,
                "status": r.status,
                "applied_at": r.applied_at,
                "decided_at": r.decided_at,
                "last_activity_at": r.last_activity_at,
            }
        )
        for c in r.consents:
            consents.append(
                {
                    "candidate_id": r.id,
                    "purpose": c.purpose,
                    "given_at": c.given_at,
                    "expires_at": c.expires_at,
                    "withdrawn_at": c.withdrawn_at,
                }
            )
    if rows:
        conn.execute(candidate.insert(), rows)
    if consents:
        conn.execute(consent.insert(), consents)


def decision_query(
    policy_set: PolicySet, *, only_due: bool = False, columns: tuple[str, ...] | None = None
) -> Any:
    """One SELECT deciding every stored candidate, as the sweep would build it.

    `columns` picks decision columns (default: all of them).
    """
    purposes = tuple(sorted(purposes_used(policy_set)))
    own = ColumnMap(
        country=candidate.c.country,
        status=candidate.c.status,
        applied_at=candidate.c.applied_at,
        decided_at=candidate.c.decided_at,
        last_activity_at=candidate.c.last_activity_at,
        consent=lambda p, f: sa.null(),  # consent_needed reads none
    )
    base = sa.select(candidate.c.id).select_from(candidate)
    base, accessor = join_latest_consents(
        base, candidate.c.id, consent, purposes, needed=consent_needed(policy_set, own)
    )
    cols = dataclasses.replace(own, consent=accessor)
    return decision_select(
        policy_set,
        cols,
        base.get_final_froms()[0],
        extra=(candidate.c.id.label("id"),),
        purposes=purposes,
        only_due=only_due,
        **({"columns": columns} if columns is not None else {}),
    )


@contextmanager
def postgres_engine() -> Iterator[sa.Engine | None]:
    """A fresh, uniquely named PostgreSQL database (None when not configured), dropped after."""
    url = os.environ.get("GDPR_TEST_DATABASE_URL") or os.environ.get("GDPR_TEST_PG_URL")
    if not url:
        yield None
        return
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"policy_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    # The engine's connection rules (no JIT for the large compiled expressions).
    engine = connect(sa.make_url(url).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
