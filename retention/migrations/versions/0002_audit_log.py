"""audit log: entries, head row, Merkle nodes, checkpoints, append-only triggers

The audit tables refuse UPDATE, DELETE and TRUNCATE at the database level. SQLite: BEFORE UPDATE and
BEFORE DELETE triggers, plus a BEFORE INSERT trigger refusing an existing key, because
INSERT OR REPLACE deletes the old row without firing delete triggers (unless recursive_triggers is
on, which a connection can turn off). PostgreSQL: row-level BEFORE UPDATE/DELETE and statement-level
BEFORE TRUNCATE triggers (TRUNCATE skips row triggers), each ENABLE ALWAYS so that
session_replication_role=replica does not switch them off. The head row may only move forward.
A later batch-mode ALTER of these tables on SQLite drops their triggers: such a migration must
re-create them (see `_sqlite_triggers`).

Revision ID: 0002_audit_log
Revises: 0001_foundation
Create Date: 2026-11-22 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_audit_log"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its key columns (for the INSERT OR REPLACE guard on SQLite)
APPEND_ONLY = {
    "audit_entry": ("seq",),
    "audit_node": ("level", "idx"),
    "audit_checkpoint": ("id",),
}


def _sqlite_triggers(table: str, keys: Sequence[str]) -> list[str]:
    # Table and column names are this module's constants (APPEND_ONLY), never input.
    same = " AND ".join(f"{k} = NEW.{k}" for k in keys)
    refuse = f"SELECT RAISE(ABORT, '{table} is append-only'); END"
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN {refuse}",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN {refuse}",
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "  # noqa: S608
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {same}) BEGIN {refuse}",
    ]


def _pg_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_change",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate",
    ]


PG_FUNCTIONS = [
    """CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.size < OLD.size OR NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'audit_head only moves forward' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$""",
]

PG_HEAD_TRIGGERS = [
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_head_forward()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    "ALTER TABLE audit_head ENABLE ALWAYS TRIGGER audit_head_forward",
    "ALTER TABLE audit_head ENABLE ALWAYS TRIGGER audit_head_no_truncate",
]

SQLITE_HEAD_TRIGGERS = [
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
    "WHEN NEW.size < OLD.size OR NEW.id <> OLD.id "
    "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END",
]


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("canonical", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_entry_subject", "audit_entry", ["subject"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_checkpoint_size", "audit_checkpoint", ["size"])
    head = sa.table(
        "audit_head",
        sa.column("id", sa.SmallInteger()),
        sa.column("size", sa.BigInteger()),
        sa.column("last_hash", sa.String()),
        sa.column("frontier", sa.LargeBinary()),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0, "last_hash": "0" * 64, "frontier": b""}])
    if op.get_bind().dialect.name == "postgresql":
        statements = [*PG_FUNCTIONS, *PG_HEAD_TRIGGERS]
        for table in APPEND_ONLY:
            statements += _pg_triggers(table)
    else:
        statements = list(SQLITE_HEAD_TRIGGERS)
        for table, keys in APPEND_ONLY.items():
            statements += _sqlite_triggers(table, keys)
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    # Dropping a table drops its triggers on both databases; the functions go last.
    op.drop_index("ix_audit_checkpoint_size", table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_node")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_entry_subject", table_name="audit_entry")
    op.drop_table("audit_entry")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_head_forward()")
        op.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
