"""PostgreSQL role separation for `gdpr db harden`: the application cannot rewrite the audit log.

Triggers refuse UPDATE, DELETE and TRUNCATE of audit rows, but a table's owner (or a superuser) can
disable or drop triggers. So the engine should run as an application role that owns nothing and
holds only the privileges it needs: SELECT and INSERT on the audit tables, SELECT and UPDATE on the
head row, full DML on the engine's other tables. Migrations keep running as the owner role.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, text

from retention.errors import BadInput
from retention.store.engine import is_postgresql

__all__ = ["AUDIT_APPEND_ONLY", "harden"]

AUDIT_APPEND_ONLY = ("audit_entry", "audit_node", "audit_checkpoint")
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _tables(conn: Connection) -> dict[str, str]:
    rows = conn.execute(
        text("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = current_schema()")
    )
    return dict(rows.all())


def harden(engine: Engine, app_role: str) -> list[str]:
    """Grant `app_role` least privilege; return the statements run. Run as the owner role.

    Creates the role (NOLOGIN) when it does not exist; the DBA then gives it LOGIN and a password.
    Refuses a role that is a superuser or owns any of the engine's tables.
    """
    if not is_postgresql(engine):
        raise BadInput(
            "role separation applies to PostgreSQL; on SQLite protect the data directory instead"
        )
    if not _ROLE.fullmatch(app_role):
        raise BadInput("application role must be a lower-case SQL identifier (e.g. gdpr_app)")
    done: list[str] = []
    with engine.begin() as conn:
        role = conn.execute(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": app_role}
        ).one_or_none()
        if role is not None and role.rolsuper:
            raise BadInput(f"role {app_role} is a superuser: it could disable the audit triggers")
        tables = _tables(conn)
        owned = sorted(t for t, owner in tables.items() if owner == app_role)
        if owned:
            raise BadInput(
                f"role {app_role} owns {owned[0]}: an owner can disable the audit triggers; "
                "use a separate application role"
            )
        missing = [t for t in (*AUDIT_APPEND_ONLY, "audit_head") if t not in tables]
        if missing:
            raise BadInput(f"table {missing[0]} is missing: run 'gdpr db upgrade' first")
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        statements = [] if role is not None else [f"CREATE ROLE {app_role} NOLOGIN"]
        others = sorted(t for t in tables if t not in (*AUDIT_APPEND_ONLY, "audit_head"))
        statements += [
            f"GRANT USAGE ON SCHEMA {schema} TO {app_role}",
            f"REVOKE ALL ON {', '.join(tables)} FROM PUBLIC",
            f"REVOKE ALL ON {', '.join(tables)} FROM {app_role}",
            f"GRANT SELECT, INSERT ON {', '.join(AUDIT_APPEND_ONLY)} TO {app_role}",
            f"GRANT SELECT, UPDATE ON audit_head TO {app_role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app_role}",
        ]
        dml = [t for t in others if t != "alembic_version"]
        if dml:
            statements.append(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(dml)} TO {app_role}"
            )
        if "alembic_version" in tables:
            statements.append(f"GRANT SELECT ON alembic_version TO {app_role}")
        for statement in statements:
            # Identifiers come from the catalog or passed the pattern above; no user text is quoted.
            conn.exec_driver_sql(statement)
            done.append(statement)
    return done
