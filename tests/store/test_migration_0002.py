"""Tests of migration 0002_audit_log: the database itself refuses to rewrite audit rows."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from audit_log import AuditLog, Event, Signer
from retention.store import connect, migrate
from retention.testing import DatabaseFactory

SIGNER = Signer.generate("t")


@pytest.fixture
def filled(any_factory: DatabaseFactory):
    """A migrated database with 20 entries (so stored nodes exist) and one checkpoint."""
    engine = connect(any_factory.migrated())
    with engine.begin() as conn:
        AuditLog().append(conn, [Event("svc", "candidate.read") for _ in range(20)])
        AuditLog().sign_checkpoint(conn, SIGNER, "o")
    yield engine
    engine.dispose()


def _refused(engine: Engine, sql: str, *, setup: str | None = None) -> None:
    with pytest.raises(DBAPIError, match=r"append-only|only moves forward"), engine.begin() as c:
        if setup:
            c.exec_driver_sql(setup)
        c.exec_driver_sql(sql)


CHANGES = {
    "update-entry": "UPDATE audit_entry SET actor = 'x' WHERE seq = 3",
    "delete-entry": "DELETE FROM audit_entry WHERE seq = 3",
    "update-node": "UPDATE audit_node SET idx = 99",
    "delete-node": "DELETE FROM audit_node",
    "update-checkpoint": "UPDATE audit_checkpoint SET size = 1",
    "delete-checkpoint": "DELETE FROM audit_checkpoint",
    "rewind-head": "UPDATE audit_head SET size = 0",
    "delete-head": "DELETE FROM audit_head",
}


class TestAppendOnly:
    @pytest.mark.parametrize("sql", CHANGES.values(), ids=CHANGES.keys())
    def test_updates_and_deletes_refused(self, filled: Engine, sql: str) -> None:
        """UPDATE and DELETE of audit rows, and rewinding the head, fail in the database."""
        _refused(filled, sql)

    def test_insert_or_replace_refused_on_sqlite(self, filled: Engine) -> None:
        """SQLite's INSERT OR REPLACE cannot swap an entry (it would bypass delete triggers)."""
        if filled.dialect.name != "sqlite":
            pytest.skip("INSERT OR REPLACE is SQLite syntax; the upsert test covers PostgreSQL")
        _refused(
            filled, "INSERT OR REPLACE INTO audit_entry SELECT * FROM audit_entry WHERE seq = 3"
        )
        _refused(filled, "REPLACE INTO audit_node SELECT * FROM audit_node")

    def test_upsert_refused(self, filled: Engine) -> None:
        """An INSERT ... ON CONFLICT DO UPDATE on an existing seq is refused."""
        _refused(
            filled,
            "INSERT INTO audit_entry SELECT * FROM audit_entry WHERE seq = 3 "
            "ON CONFLICT (seq) DO UPDATE SET actor = 'x'",
        )

    def test_entries_unchanged_after_refusals(self, filled: Engine) -> None:
        """After refused changes the log still verifies."""
        for sql in CHANGES.values():
            with pytest.raises(DBAPIError), filled.begin() as c:
                c.exec_driver_sql(sql)
        with filled.connect() as conn:
            assert AuditLog().verify(conn, verifier=SIGNER.verifier, origin="o").ok


class TestPostgreSQL:
    @pytest.fixture
    def pg_filled(self, filled: Engine) -> Engine:
        if filled.dialect.name != "postgresql":
            pytest.skip("PostgreSQL-only trigger behaviour")
        return filled

    @pytest.mark.parametrize(
        "table", ["audit_entry", "audit_node", "audit_checkpoint", "audit_head"]
    )
    def test_truncate_refused(self, pg_filled: Engine, table: str) -> None:
        """TRUNCATE, which skips row triggers, is refused by the statement-level trigger."""
        _refused(pg_filled, f"TRUNCATE {table} CASCADE")

    @pytest.mark.parametrize("sql", CHANGES.values(), ids=CHANGES.keys())
    def test_replica_role_does_not_disable(self, pg_filled: Engine, sql: str) -> None:
        """With session_replication_role=replica the ENABLE ALWAYS triggers still refuse."""
        _refused(pg_filled, sql, setup="SET LOCAL session_replication_role = replica")

    def test_replica_role_truncate(self, pg_filled: Engine) -> None:
        """TRUNCATE under session_replication_role=replica is refused too."""
        _refused(pg_filled, "TRUNCATE audit_entry",
                 setup="SET LOCAL session_replication_role = replica")  # fmt: skip

    def test_triggers_enabled_always(self, pg_filled: Engine) -> None:
        """Every audit trigger is marked ENABLE ALWAYS ('A') in the catalog."""
        with pg_filled.connect() as conn:
            rows = conn.execute(text(
                "SELECT tgname, tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relname LIKE 'audit_%' AND NOT t.tgisinternal")).all()  # fmt: skip
        assert len(rows) == 8
        assert {r.tgenabled for r in rows} == {"A"}


class TestDowngrade:
    def test_downgrade_removes_tables_and_functions(self, any_factory: DatabaseFactory) -> None:
        """Downgrading to 0001 drops the audit tables, triggers and trigger functions."""
        engine = connect(any_factory.migrated())
        migrate.downgrade(engine, "0001_foundation")
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                n = conn.execute(text(
                    "SELECT count(*) FROM pg_proc WHERE proname LIKE 'audit_%'")).scalar()  # fmt: skip
                assert n == 0
            else:
                n = conn.execute(text(
                    "SELECT count(*) FROM sqlite_master WHERE name LIKE 'audit_%'")).scalar()  # fmt: skip
                assert n == 0
        migrate.upgrade(engine)
        with engine.begin() as conn:
            AuditLog().append(conn, [Event("svc", "x")])
        engine.dispose()
