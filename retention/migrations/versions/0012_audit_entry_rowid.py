"""audit log on SQLite: audit_entry's seq becomes the table's rowid

SQLite keeps a table in a B-tree keyed by its rowid, and a primary key of any declared type but
INTEGER is a second B-tree beside it. `seq BIGINT PRIMARY KEY` was such a key: every append
wrote each entry into two B-trees (and the append-only trigger's lookup went through the second
one), and every read in seq order (verification, proofs, exports) walked the key's B-tree and then
looked each row up in the table's. Declared INTEGER, seq is the rowid itself: one B-tree, entries
stored in seq order. The values are the same 64-bit integers. SQLite cannot change a column's type
in place, so the table is rebuilt: the new one is filled from the old in seq order, the old one
dropped (a DROP fires no trigger) and the new one renamed; its index and the append-only triggers
of revision 0002 are made again, word for word. PostgreSQL keeps BIGINT: nothing to do there.

Revision ID: 0012_audit_entry_rowid
Revises: 0011_integration
Create Date: 2026-12-02 06:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_audit_entry_rowid"
down_revision: str | None = "0011_integration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "seq, ts, actor, action, subject, outcome, canonical, leaf_hash"
_REFUSE = "SELECT RAISE(ABORT, 'audit_entry is append-only'); END"
_TRIGGERS = {
    "audit_entry_no_update": f"BEFORE UPDATE ON audit_entry BEGIN {_REFUSE}",
    "audit_entry_no_delete": f"BEFORE DELETE ON audit_entry BEGIN {_REFUSE}",
    "audit_entry_no_replace": "BEFORE INSERT ON audit_entry "  # noqa: S608 (constants)
    f"WHEN EXISTS (SELECT 1 FROM audit_entry WHERE seq = NEW.seq) BEGIN {_REFUSE}",
}


def _rebuild(seq_type: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute(
        f"CREATE TABLE audit_entry_rebuilt (seq {seq_type} NOT NULL, ts DATETIME NOT NULL, "
        "actor VARCHAR(200) NOT NULL, action VARCHAR(100) NOT NULL, subject CHAR(32), "
        "outcome VARCHAR(8) NOT NULL, canonical BLOB NOT NULL, leaf_hash BLOB NOT NULL, "
        "PRIMARY KEY (seq))"
    )
    op.execute(
        f"INSERT INTO audit_entry_rebuilt ({_COLUMNS}) "  # noqa: S608 (constants only)
        f"SELECT {_COLUMNS} FROM audit_entry ORDER BY seq"
    )
    op.execute("DROP TABLE audit_entry")
    op.execute("ALTER TABLE audit_entry_rebuilt RENAME TO audit_entry")
    op.execute("CREATE INDEX ix_audit_entry_subject ON audit_entry (subject)")
    for name, body in _TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade() -> None:
    _rebuild("INTEGER")


def downgrade() -> None:
    _rebuild("BIGINT")
