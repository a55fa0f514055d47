"""Shared set-up for tampering tests: dropping the audit tables' append-only triggers, so a test
can change stored entries as an attacker with write access to the database file would."""

from __future__ import annotations

from sqlalchemy import Connection, text


def drop_audit_triggers(conn: Connection) -> None:
    """Drop every trigger on the audit tables (SQLite: every trigger of the database)."""
    if conn.dialect.name == "sqlite":
        names = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ).scalars()
        for name in list(names):
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        return
    rows = conn.execute(text(
        "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relname LIKE 'audit_%' AND NOT t.tgisinternal")).all()  # fmt: skip
    for name, table in rows:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}" ON "{table}"')
