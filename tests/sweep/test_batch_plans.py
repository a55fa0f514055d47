"""A sweep batch's statements are planned around the batch, never around the whole table.

A batch is a fixed number of subjects, so each of its statements must find its rows through the
batch's ids and an index: a plan that scans a table costs a batch more the larger the table, and
the whole sweep quadratically (the PostgreSQL sweep once ran at 48 subjects/s on demo data). On a
small database the planner would rightly choose scans, so timing cannot show this here; the plans
can. `bench/sweep.py --rows 100000,1000000` checks the times at scale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from policies import load_default_policy_set
from retention.config import load_config
from retention.demo import seed_candidates
from retention.install import Installation
from retention.store import connect
from retention.sweep import run_sweep
from retention.testing import DatabaseFactory

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
# Tables a batch reads or changes by subject id; each grows with the installation.
BIG_TABLES = {
    "candidate",
    "application",
    "consent",
    "document",
    "legal_hold",
    "review_item",
    "pending_deletion",
    "sweep_item",
}
# What every batch statement of the demo's mix must include, so that no action path goes unseen.
EXPECTED_KINDS = {
    "decision",
    "select candidate",  # the lock (PostgreSQL)
    "delete candidate",
    "delete consent",
    "update application",
    "update candidate",
    "insert pending_deletion",
    "delete document",
    "select review_item",
}


def _kind(statement: str) -> str:
    if len(statement) > 20_000:
        return "decision"
    m = re.match(r"\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM)\s+(\S+)", statement, re.I)
    if m is None:
        return "other"
    # Statements built from the catalog quote their identifiers (retention.store.cascade).
    verb, table = m.group(1).split()[0].lower(), m.group(2).lower().strip('"')
    if verb == "select":
        f = re.search(r"\bFROM\s+(\w+)", statement, re.I)
        table = f.group(1).lower() if f else table
    return f"{verb} {table}"


def _takes_id_set(statement: str) -> bool:
    return bool(re.search(r"= ANY ?\(|unnest\(|json_each", statement))


def _index_table(node: dict[str, Any]) -> str:
    """The table of a bitmap index scan's index (its plan node names the index alone)."""
    name = node.get("Index Name", "")
    return next((t for t in BIG_TABLES if t in name), name)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _capture_plans(engine: Engine) -> dict[str, list[Any]]:
    """Plan every statement that takes a batch's id set, on the batch's own connection."""
    plans: dict[str, list[Any]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def explain(conn: Any, cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if many or not _takes_id_set(statement) or "sweep_item (" in statement:
            return  # executemany, or the run's selection (a whole-table read by design)
        if conn.dialect.name == "postgresql":
            cursor.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + statement, params)
            (plan,) = cursor.fetchone()
            plan = plan if isinstance(plan, list) else json.loads(plan)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
            plan = [row[3] for row in cursor.fetchall()]
        plans.setdefault(_kind(statement), []).append(plan)

    return plans


@pytest.fixture
def demo_installation(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Installation]:
    url = db_factory.migrated()
    engine = connect(url)
    (tmp_path / "documents").mkdir()
    # 5% with documents instead of 2%: every batch then drops some document rows.
    seed_candidates(engine, tmp_path / "documents", 3000, seed=5, now=AT, document_fraction=0.05)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    yield Installation(load_config(tmp_path, url, env={}), engine)
    engine.dispose()


def test_batch_statements_find_rows_by_index_and_read_the_id_set_once(
    demo_installation: Installation,
) -> None:
    engine = demo_installation.engine
    plans = _capture_plans(engine)
    result = run_sweep(
        demo_installation, load_default_policy_set(), actor="test", at=AT, batch_size=500
    )
    assert result.batches >= 2 and result.deleted and result.anonymized and result.reviewed
    assert EXPECTED_KINDS - {"select candidate"} <= plans.keys()
    scans, reparsed, pairs = [], [], []
    if engine.dialect.name == "postgresql":
        assert "select candidate" in plans
        for kind, found in plans.items():
            for plan in found:
                for node in _nodes(plan[0]["Plan"]):
                    if node["Node Type"] == "Seq Scan" and node["Relation Name"] in BIG_TABLES:
                        scans.append((kind, node["Relation Name"]))
                    # An index read without a condition is a scan too: the decision once read
                    # all of a partial index (its predicate matched) to filter by id after.
                    if (
                        "Index" in node["Node Type"]
                        and "Index Cond" not in node
                        and node.get("Relation Name", _index_table(node)) in BIG_TABLES
                    ):
                        scans.append((kind, node["Index Name"]))
                    # A join that compares every pair of its two sides costs the square of a
                    # batch: the anonymizing UPDATE once joined its values so without a hash.
                    if node["Node Type"] == "Nested Loop" and "Join Filter" in node:
                        pairs.append(kind)
                # A constant array prints as '{...}'::uuid[]; a parameter typed varchar, cast at
                # run time (parsed again per row filtered), prints as ('{...}'::cstring)::uuid[].
                if re.search(r"::(cstring|character varying|text)\)+::uuid\[\]", json.dumps(plan)):
                    reparsed.append(kind)
    else:
        for kind, found in plans.items():
            for plan in found:
                for detail in plan:
                    m = re.match(r"SCAN (\w+)", detail)
                    if m and m.group(1) in BIG_TABLES:
                        scans.append((kind, m.group(1)))
    assert not scans, f"batch statements scanning a whole table: {sorted(set(scans))}"
    assert not reparsed, f"id arrays cast at run time: {sorted(set(reparsed))}"
    assert not pairs, f"joins comparing every pair of rows: {sorted(set(pairs))}"
    if engine.dialect.name == "sqlite":
        # The batches delete with foreign keys off and cascade by hand: nothing left dangling.
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


def test_every_foreign_key_to_a_subject_has_an_index(demo_installation: Installation) -> None:
    """The delete cascades look up children by their foreign key, once per deleted subject."""
    engine = demo_installation.engine
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            unindexed = conn.execute(
                text(
                    """
                    SELECT c.conrelid::regclass::text
                    FROM pg_constraint c
                    WHERE c.contype = 'f' AND c.confrelid = 'candidate'::regclass AND NOT EXISTS (
                        SELECT 1 FROM pg_index i
                        WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
                    """
                )
            ).scalars()
        else:
            unindexed = []
            tables = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
            for (table,) in tables.all():
                fks = conn.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")').all()
                leading = {
                    conn.exec_driver_sql(f'PRAGMA index_info("{ix[1]}")').first()[2]
                    for ix in conn.exec_driver_sql(f'PRAGMA index_list("{table}")').all()
                }
                unindexed += [table for fk in fks if fk[2] == "candidate" and fk[3] not in leading]
        assert not list(unindexed)
