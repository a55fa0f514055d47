"""Tests of retention.store.hardening: the application role cannot rewrite the audit log."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from audit_log import AuditLog, Event
from retention.errors import BadInput
from retention.store import connect
from retention.store.hardening import harden
from retention.testing import DatabaseFactory


class TestHarden:
    def test_app_role_appends_but_cannot_rewrite(self, pg_factory: DatabaseFactory) -> None:
        """After hardening, the app role appends and reads, but cannot delete or disable triggers."""
        engine = connect(pg_factory.migrated())
        role = f"gdpr_app_{uuid.uuid4().hex[:8]}"
        try:
            statements = harden(engine, role)
            assert statements[0] == f"CREATE ROLE {role} NOLOGIN"
            with engine.begin() as conn:
                conn.exec_driver_sql(f"SET LOCAL ROLE {role}")
                AuditLog().append(conn, [Event("svc", "candidate.read")])
                assert AuditLog().head(conn).size == 1
            for sql in (
                "DELETE FROM audit_entry",
                "ALTER TABLE audit_entry DISABLE TRIGGER ALL",
                "DROP TRIGGER audit_entry_no_change ON audit_entry",
                "UPDATE audit_checkpoint SET size = 0",
            ):
                denied = pytest.raises(DBAPIError, match=r"permission denied|must be owner")
                with denied, engine.begin() as conn:
                    conn.exec_driver_sql(f"SET LOCAL ROLE {role}")
                    conn.exec_driver_sql(sql)
            assert harden(engine, role)[0].startswith("GRANT USAGE")  # idempotent
        finally:
            with engine.begin() as conn:
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
            engine.dispose()

    def test_superuser_refused(self, pg_factory: DatabaseFactory) -> None:
        """Hardening with a superuser as the application role is refused."""
        engine = connect(pg_factory.migrated())
        with pytest.raises(BadInput, match="superuser"):
            harden(engine, "postgres")
        engine.dispose()

    def test_sqlite_refused(self, sqlite_factory: DatabaseFactory) -> None:
        """On SQLite there are no roles: the command says so."""
        engine = connect(sqlite_factory.migrated())
        with pytest.raises(BadInput, match="applies to PostgreSQL"):
            harden(engine, "gdpr_app")
        engine.dispose()

    def test_bad_role_name_refused(self, pg_factory: DatabaseFactory) -> None:
        """A role name that is not a plain identifier is refused before any SQL runs."""
        engine = connect(pg_factory.migrated())
        with pytest.raises(BadInput, match="identifier"):
            harden(engine, "x; DROP TABLE audit_entry")
        engine.dispose()
