"""Tests of migration 0012_audit_entry_rowid: on SQLite the log's seq becomes the rowid, with
every entry, the append-only triggers and verification intact, up and down."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from audit_log import AuditLog, Event, Signer
from retention.store import connect, migrate
from retention.testing import DatabaseFactory

SIGNER = Signer.generate("t")
BEFORE = "0011_integration"


def _entries(engine: Engine) -> list[tuple[int, bytes, bytes]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT seq, canonical, leaf_hash FROM audit_entry ORDER BY seq"
        ).all()
    return [(r[0], bytes(r[1]), bytes(r[2])) for r in rows]


def _seq_is_rowid(engine: Engine) -> bool:
    """True when SQLite keeps no index of its own for the primary key: seq is the rowid."""
    with engine.connect() as conn:
        indexes = [r[1] for r in conn.exec_driver_sql("PRAGMA index_list(audit_entry)")]
    return not any(name.startswith("sqlite_autoindex_audit_entry") for name in indexes)


def _verifies(engine: Engine) -> bool:
    with engine.connect() as conn:
        return AuditLog().verify(conn, verifier=SIGNER.verifier, origin="o").ok


@pytest.fixture
def filled_before(any_factory: DatabaseFactory):
    """A database at 0011 with 40 entries (stored nodes too) and a signed checkpoint."""
    engine = connect(any_factory.empty())
    migrate.upgrade(engine, BEFORE)
    with engine.begin() as conn:
        AuditLog().append(conn, [Event("svc", "candidate.read", details={"i": i})
                                 for i in range(40)])  # fmt: skip
        AuditLog().sign_checkpoint(conn, SIGNER, "o")
    yield engine
    engine.dispose()


class TestRowid:
    def test_upgrade_keeps_every_entry_and_the_log_verifies(self, filled_before: Engine) -> None:
        """The rebuilt table holds the same entries; the log verifies and takes more."""
        engine = filled_before
        before = _entries(engine)
        migrate.upgrade(engine)
        assert _entries(engine) == before
        assert _verifies(engine)
        with engine.begin() as conn:
            AuditLog().append(conn, [Event("svc", "candidate.read")])
            AuditLog().sign_checkpoint(conn, SIGNER, "o")
        assert _verifies(engine)
        if engine.dialect.name == "sqlite":
            assert _seq_is_rowid(engine)

    def test_append_only_triggers_are_back(self, filled_before: Engine) -> None:
        """After the rebuild the database still refuses to update, delete or replace an entry."""
        engine = filled_before
        migrate.upgrade(engine)
        changes = [
            "UPDATE audit_entry SET actor = 'x' WHERE seq = 3",
            "DELETE FROM audit_entry WHERE seq = 3",
        ]
        if engine.dialect.name == "sqlite":
            changes.append(
                "INSERT OR REPLACE INTO audit_entry SELECT * FROM audit_entry WHERE seq = 3"
            )
        for sql in changes:
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.exec_driver_sql(sql)
        assert _verifies(engine)

    def test_downgrade_restores_the_old_key(self, filled_before: Engine) -> None:
        """Down again: the same entries, a separate key index on SQLite, the log verifies."""
        engine = filled_before
        before = _entries(engine)
        migrate.upgrade(engine)
        migrate.downgrade(engine, BEFORE)
        assert _entries(engine) == before
        assert _verifies(engine)
        if engine.dialect.name == "sqlite":
            assert not _seq_is_rowid(engine)
            with engine.connect() as conn:
                triggers = conn.execute(text(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'audit_entry'")).scalar()  # fmt: skip
            assert triggers == 3
