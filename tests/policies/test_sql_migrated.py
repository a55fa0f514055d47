"""The compiled SQL on the real migrated tables (candidate, consent, legal_hold), as the sweep
will run it: same decisions as the Python evaluator, holds included, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import (
    ColumnMap,
    Decision,
    Hold,
    NaiveUTC,
    Record,
    evaluate,
    join_latest_consents,
    load_default_policy_set,
    purposes_used,
)
from policies.sql_compiler import decision_select
from retention.store import Candidate, LegalHold, connect
from retention.store import Consent as ConsentRow
from tests.policies.strategies import boundaries, consent_lists, instants, maybe_instants

CANDIDATE = Candidate.__table__
CONSENT = ConsentRow.__table__
HOLD = LegalHold.__table__
POLICIES = load_default_policy_set()


def _query() -> sa.Select:
    purposes = tuple(sorted(purposes_used(POLICIES)))
    c = CANDIDATE.c
    base, accessor = join_latest_consents(
        sa.select(c.id).select_from(CANDIDATE), c.id, CONSENT, purposes
    )
    at = sa.bindparam("at", type_=NaiveUTC())
    held = sa.exists().where(
        HOLD.c.subject_id == c.id,
        HOLD.c.placed_at <= at,
        sa.or_(HOLD.c.released_at.is_(None), HOLD.c.released_at > at),
    )
    cols = ColumnMap(
        c.country, c.status, c.applied_at, c.decided_at, c.last_activity_at, accessor, held
    )
    return decision_select(
        POLICIES,
        cols,
        base.get_final_froms()[0],
        extra=(c.id.label("id"),),
        purposes=purposes,
        where=c.anonymized_at.is_(None),  # as the sweep will: anonymized rows are done
    )


QUERY = _query()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    holds = st.lists(st.builds(Hold, instants, maybe_instants), max_size=2)
    return [
        Record(
            id=str(uuid.UUID(int=i + 1)),
            country=draw(st.sampled_from(["NL", "ES", "DE", "FR", "AT", "GB", "US"])),
            status=draw(st.sampled_from(["in_process", "rejected", "withdrawn", "hired"])),
            applied_at=draw(maybe_instants),
            decided_at=draw(maybe_instants),
            last_activity_at=draw(maybe_instants),
            consents=tuple(draw(consent_lists)),
            holds=tuple(draw(holds)),
        )
        for i in range(draw(st.integers(1, 10)))
    ]


def _store(conn: sa.Connection, records: list[Record]) -> None:
    for table in (HOLD, CONSENT, CANDIDATE):
        conn.execute(table.delete())
    conn.execute(
        CANDIDATE.insert(),
        [
            {
                "id": uuid.UUID(r.id),
                "country": r.country,
                "status": r.status,
                "applied_at": r.applied_at,
                "decided_at": r.decided_at,
                "last_activity_at": r.last_activity_at,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for r in records
        ],
    )
    consents = [
        {
            "candidate_id": uuid.UUID(r.id),
            "purpose": c.purpose,
            "notice_version": "v1",
            "channel": "test",
            "given_at": c.given_at,
            "expires_at": c.expires_at,
            "withdrawn_at": c.withdrawn_at,
        }
        for r in records
        for c in r.consents
    ]
    if consents:
        conn.execute(CONSENT.insert(), consents)
    holds = [
        {
            "id": uuid.uuid4(),
            "subject_id": uuid.UUID(r.id),
            "case_ref": "case",
            "reason": "test",
            "placed_by": "test",
            "placed_at": h.placed_at,
            "released_at": h.released_at,
        }
        for r in records
        for h in r.holds
    ]
    if holds:
        conn.execute(HOLD.insert(), holds)


def _compare(engine: sa.Engine, records: list[Record], at: datetime) -> None:
    with engine.begin() as conn:
        _store(conn, records)
        rows = {str(row.id): row for row in conn.execute(QUERY, {"at": at})}
    for r in records:
        row, outcome = rows[r.id], evaluate(POLICIES, r, at)
        if isinstance(outcome, Decision):
            nxt = (outcome.next.action, outcome.next.due_at) if outcome.next else (None, None)
            expected = (
                outcome.policy,
                outcome.rule,
                outcome.action,
                outcome.due_at,
                outcome.due,
                *nxt,
                None,
            )
        else:
            expected = (
                outcome.policy,
                outcome.rule,
                row.action,
                row.due_at,
                False,
                row.next_action,
                row.next_due_at,
                outcome.cause.value,
            )
        got = (
            row.policy,
            row.rule,
            row.action,
            row.due_at,
            bool(row.due),
            row.next_action,
            row.next_due_at,
            row.error,
        )
        assert got == expected, r


def _check(engine: sa.Engine, data: st.DataObject) -> None:
    records = data.draw(_records())
    for at in data.draw(
        st.lists(
            st.sampled_from(boundaries(POLICIES, records, data.draw(instants))),
            min_size=1,
            max_size=2,
        )
    ):
        _compare(engine, records, at)


_SETTINGS = settings(
    max_examples=int(os.environ.get("POLICY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def sqlite_migrated(sqlite_factory):
    engine = connect(sqlite_factory.migrated())
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_migrated(pg_factory):
    engine = connect(pg_factory.migrated())
    yield engine
    engine.dispose()


class TestMigratedTables:
    @_SETTINGS
    @given(data=st.data())
    def test_sqlite(self, sqlite_migrated, data):
        """On the migrated SQLite schema, SQL and Python decide every record alike, holds too."""
        _check(sqlite_migrated, data)

    @pytest.mark.postgres
    @_SETTINGS
    @given(data=st.data())
    def test_postgres(self, pg_migrated, data):
        """On the migrated PostgreSQL schema, SQL and Python decide every record alike."""
        _check(pg_migrated, data)
