"""One meaning, two executions: the compiled SQL decides exactly as the Python evaluator does."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import (
    Decision,
    Record,
    build_policy_set,
    evaluate,
    load_default_policy_set,
    parse,
)
from tests.policies.strategies import boundaries, consent_lists, instants, maybe_instants
from tests.policy_db import decision_query, metadata, postgres_engine, store

EXOTIC = """
policy XX "exotic constructs"
  countries US, CA
  rule withdrawn-pool
    when consent(talent_pool) withdrawn
      or (consent(reference_check) expired and not status in (hired))
    keep until latest of (consent(talent_pool).withdrawn_at, 3 days after applied_at, decided_at)
    then block
    then anonymize after 2 weeks
    then delete after 1 month
    cite "test"
  rule hired-kept
    when status in (hired) and not consent(talent_pool) given
    keep
    cite "test"
  rule fresh
    when not (status in (rejected) or status in (withdrawn))
    keep 1 year after applied_at
    then review
    cite "test"
  default
    keep until earliest of (5 months after decided_at, consent(talent_pool).expires_at)
    then delete
    cite "test"
"""


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    n = draw(st.integers(1, 12))
    return [
        Record(
            id=f"r{i:03d}",
            country=draw(
                st.sampled_from(["NL", "ES", "DE", "FR", "AT", "GB", "US", "CA", "JP", None])
            ),
            status=draw(st.sampled_from(["in_process", "rejected", "withdrawn", "hired", None])),
            applied_at=draw(maybe_instants),
            decided_at=draw(maybe_instants),
            last_activity_at=draw(maybe_instants),
            consents=tuple(draw(consent_lists)),
        )
        for i in range(n)
    ]


def _python(policy_set, records, at):
    out = {}
    for r in records:
        o = evaluate(policy_set, r, at)
        if isinstance(o, Decision):
            nxt = (o.next.action, o.next.due_at) if o.next else (None, None)
            out[r.id] = (o.policy, o.rule, o.action, o.due_at, o.due, *nxt, None)
        else:
            out[r.id] = (o.policy, o.rule, None, None, False, None, None, o.cause.value)
    return out


def _sql(engine, policy_set, records, at):
    with engine.begin() as conn:
        store(conn, records)
        rows = conn.execute(_QUERIES[id(policy_set)], {"at": at}).all()
        due_ids = {r.id for r in conn.execute(_DUE_QUERIES[id(policy_set)], {"at": at})}
    # The sweep's due-only query (with its cheap prefilter) selects exactly the due rows.
    assert due_ids == {row.id for row in rows if row.due}
    out = {}
    for row in rows:
        if row.error:
            out[row.id] = (row.policy, row.rule, None, None, False, None, None, row.error)
        else:
            out[row.id] = (
                row.policy,
                row.rule,
                row.action,
                row.due_at,
                bool(row.due),
                row.next_action,
                row.next_due_at,
                None,
            )
    return out


POLICY_SETS = {
    "shipped": load_default_policy_set(),
    "exotic": build_policy_set([parse(EXOTIC, "exotic.policy")]),
}

_QUERIES = {id(ps): decision_query(ps) for ps in POLICY_SETS.values()}
_DUE_QUERIES = {id(ps): decision_query(ps, only_due=True) for ps in POLICY_SETS.values()}


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory):
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('policy')}/policy.db")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_engine():
    with postgres_engine() as engine:
        if engine is None:
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(
                    "CI=true but neither GDPR_TEST_DATABASE_URL nor GDPR_TEST_PG_URL is set"
                )
            pytest.skip("PostgreSQL not configured: set GDPR_TEST_DATABASE_URL to run this test")
        metadata.create_all(engine)
        yield engine


def _check(engine, data):
    name = data.draw(st.sampled_from(sorted(POLICY_SETS)))
    policy_set = POLICY_SETS[name]
    records = data.draw(_records())
    at = data.draw(instants)
    for instant in data.draw(
        st.lists(st.sampled_from(boundaries(policy_set, records, at)), min_size=1, max_size=3)
    ):
        assert _sql(engine, policy_set, records, instant) == _python(policy_set, records, instant)


_SETTINGS = settings(
    max_examples=int(os.environ.get("POLICY_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class TestSameDecisions:
    @_SETTINGS
    @given(data=st.data())
    def test_sqlite_matches_python(self, sqlite_engine, data):
        """On a SQLite file, the compiled SQL gives every record Python's rule, action and due."""
        _check(sqlite_engine, data)

    @pytest.mark.postgres
    @_SETTINGS
    @given(data=st.data())
    def test_postgres_matches_python(self, pg_engine, data):
        """On PostgreSQL, the compiled SQL gives every record Python's rule, action and due."""
        _check(pg_engine, data)


class TestMonthEnds:
    @pytest.mark.parametrize(
        ("anchor", "expected"),
        [
            (datetime(2023, 8, 31, 23, 59, 59, 999999), datetime(2024, 2, 29, 23, 59, 59, 999999)),
            (datetime(2022, 8, 31, 10, 0, 0, 1), datetime(2023, 2, 28, 10, 0, 0, 1)),
            (datetime(2024, 3, 31, 0, 0), datetime(2024, 9, 30, 0, 0)),
        ],
    )
    def test_sqlite_clamps_like_python(self, sqlite_engine, anchor, expected):
        """SQLite's `6 months after decided_at` clamps to the month's end, time kept."""
        policy_set = POLICY_SETS["shipped"]
        record = Record("m", "DE", "rejected", decided_at=anchor.replace(tzinfo=UTC))
        got = _sql(sqlite_engine, policy_set, [record], datetime(2030, 1, 1, tzinfo=UTC))
        assert got["m"][3] == expected.replace(tzinfo=UTC)


def _literal_rows(engine, policy_set, at):
    """The due query compiled with every value inlined, as the sweep's batch statement is."""
    query = decision_query(policy_set, only_due=True, columns=("action",))
    sql = str(
        query.params(at=at).compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    ).replace("LIMIT ? OFFSET", "LIMIT -1 OFFSET")
    if engine.dialect.name == "postgresql":
        sql = sql.replace("%", "%%")  # psycopg's format paramstyle; SQLite's qmark needs none
    with engine.connect() as conn:
        literal = {(r[0], r[1]) for r in conn.exec_driver_sql(sql)}
        bound = {(r.id, r.action) for r in conn.execute(query, {"at": at})}
    return literal, bound


class TestLiteralInstant:
    """The instant inlined as a literal decides as the bound parameter does (on PostgreSQL an
    untyped literal once made date_trunc ambiguous)."""

    RECORDS = (
        Record("a", "DE", "rejected", decided_at=datetime(2024, 1, 31, 12, tzinfo=UTC)),
        Record("b", "NL", "rejected", decided_at=datetime(2024, 6, 30, tzinfo=UTC)),
        Record("c", "ES", "withdrawn", decided_at=datetime(2023, 5, 31, tzinfo=UTC)),
        Record("d", "FR", "in_process", last_activity_at=datetime(2023, 2, 28, tzinfo=UTC)),
        Record("e", "AT", "hired", decided_at=datetime(2024, 1, 31, 13, tzinfo=UTC)),
        Record("f", "AT", "hired", decided_at=datetime(2024, 1, 31, 12, tzinfo=UTC)),
    )
    AT = datetime(2024, 7, 31, 12, tzinfo=UTC)

    def _check(self, engine):
        with engine.begin() as conn:
            store(conn, self.RECORDS)
        literal, bound = _literal_rows(engine, POLICY_SETS["shipped"], self.AT)
        assert literal == bound
        # f: Jan 31 12:00 + 6 months is Jul 31 12:00, due at that very instant; e an hour later.
        assert {i for i, _ in bound} == {"a", "b", "c", "d", "f"}

    def test_sqlite(self, sqlite_engine):
        self._check(sqlite_engine)

    @pytest.mark.postgres
    def test_postgres(self, pg_engine):
        self._check(pg_engine)
