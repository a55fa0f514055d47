"""Tests of retention.audit.log: an installation's log verifies, and tampering is found and located.

Tampering is done as an owner of the database could: drop the append-only triggers, then rewrite
rows directly in SQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, select, update

from audit_log import AuditLog, Event, ProblemKind, Signer
from audit_log.schema import audit_checkpoint, audit_entry, audit_head, audit_node
from retention.audit import log as auditing
from retention.errors import BadInput, InstallationError
from retention.install import Installation
from tests.audit_support import drop_audit_triggers


@pytest.fixture
def keyed(installation: Installation) -> Installation:
    """An installation with its signing key, 50 entries and checkpoints at 20 and 50."""
    auditing.create_signing_key(installation)
    log = AuditLog()
    with installation.engine.begin() as conn:
        log.append(conn, [Event("svc", "candidate.read", details={"i": i}) for i in range(20)])
    auditing.sign_checkpoint(installation)
    with installation.engine.begin() as conn:
        for b in range(3):
            log.append(conn, [Event("svc", "export", details={"b": b, "i": i}) for i in range(10)])
    auditing.sign_checkpoint(installation)
    return installation


def _tamper(engine: Engine, *statements) -> None:
    with engine.begin() as conn:
        drop_audit_triggers(conn)
        for st in statements:
            conn.execute(st)


def _row(engine: Engine, seq: int):
    with engine.connect() as conn:
        return conn.execute(select(audit_entry).where(audit_entry.c.seq == seq)).one()


def _problem(installation: Installation) -> tuple[ProblemKind, int | None]:
    report = auditing.verify_installation(installation)
    assert report.problem is not None
    return report.problem.kind, report.problem.seq


class TestIntact:
    def test_verifies_against_db_and_witness(self, keyed: Installation) -> None:
        """An untouched installation verifies against 2 stored and 2 witnessed checkpoints."""
        report = auditing.verify_installation(keyed)
        assert report.ok and report.size == 50
        assert (report.checkpoints, report.witnessed) == (2, 2)

    def test_progress_reported(self, keyed: Installation) -> None:
        """Verification reports its progress, ending at the log size."""
        seen: list[int] = []
        auditing.verify_installation(keyed, progress=seen.append)
        assert seen[-1] == 50

    def test_proofs_verify(self, keyed: Installation) -> None:
        """Inclusion and consistency proofs served for the installation verify."""
        auditing.inclusion(keyed, 7, 20).verify()
        auditing.consistency(keyed, 20).verify()
        with pytest.raises(BadInput):
            auditing.inclusion(keyed, 60)


class TestTampering:
    def test_changed_byte(self, keyed: Installation) -> None:
        """One byte changed in one entry is found at that seq."""
        data = bytearray(_row(keyed.engine, 33).canonical)
        data[data.index(b'"i":') + 4] ^= 1
        _tamper(keyed.engine,
                update(audit_entry).where(audit_entry.c.seq == 33).values(canonical=bytes(data)))  # fmt: skip
        assert _problem(keyed) == (ProblemKind.CHANGED, 33)

    def test_deleted_entry(self, keyed: Installation) -> None:
        """A deleted entry is found missing at its seq."""
        _tamper(keyed.engine, delete(audit_entry).where(audit_entry.c.seq == 12))
        assert _problem(keyed) == (ProblemKind.MISSING, 12)

    def test_swapped_entries(self, keyed: Installation) -> None:
        """Two entries swapped are found reordered at the first of them."""
        a, b = _row(keyed.engine, 5), _row(keyed.engine, 40)
        cols = ("ts", "actor", "action", "subject", "outcome", "canonical", "leaf_hash")
        _tamper(
            keyed.engine,
            update(audit_entry).where(audit_entry.c.seq == 5).values({c: b._mapping[c] for c in cols}),
            update(audit_entry).where(audit_entry.c.seq == 40).values({c: a._mapping[c] for c in cols}),
        )  # fmt: skip
        assert _problem(keyed) == (ProblemKind.REORDERED, 5)

    def test_truncated_tail(self, keyed: Installation) -> None:
        """The tail cut off, head rewound and checkpoints deleted, is still found truncated."""
        with keyed.engine.connect() as conn:
            head = conn.execute(select(audit_head)).one()
        _tamper(
            keyed.engine,
            delete(audit_entry).where(audit_entry.c.seq >= 20),
            delete(audit_node).where(audit_node.c.idx >= 1),
            delete(audit_checkpoint).where(audit_checkpoint.c.size > 20),
            update(audit_head).values(size=20, frontier=b"", last_hash=head.last_hash),
        )
        assert _problem(keyed) == (ProblemKind.TRUNCATED, 20)

    def test_forgery_signed_by_another_key(self, keyed: Installation) -> None:
        """A whole new consistent log signed by another key is found forged from seq 0."""
        _tamper(keyed.engine, delete(audit_entry), delete(audit_node), delete(audit_checkpoint),
                update(audit_head).values(size=0, last_hash="0" * 64, frontier=b""))  # fmt: skip
        other = Signer.generate(keyed.config.log_origin)
        with keyed.engine.begin() as conn:
            AuditLog().append(conn, [Event("svc", "candidate.read") for _ in range(50)])
            AuditLog().sign_checkpoint(conn, other, keyed.config.log_origin)
        report = auditing.verify_installation(keyed)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.FORGED, 0)
        assert any("not signed by" in p.detail for p in report.notes)

    def test_rewritten_node(self, keyed: Installation) -> None:
        """A stored Merkle node rewritten (proofs would lie) is found at its first leaf."""
        _tamper(keyed.engine, update(audit_node).where(audit_node.c.level == 4)
                .where(audit_node.c.idx == 1).values(hash=b"\x00" * 32))  # fmt: skip
        assert _problem(keyed) == (ProblemKind.CHANGED, 16)


class TestKeys:
    def test_key_file_is_private(self, keyed: Installation) -> None:
        """The signing key file is created 0600."""
        assert oct(keyed.config.signing_key_file.stat().st_mode & 0o777) == "0o600"

    def test_readable_key_refused(self, keyed: Installation) -> None:
        """A signing key readable by others is refused with an instruction."""
        keyed.config.signing_key_file.chmod(0o644)
        with pytest.raises(InstallationError, match="chmod 600"):
            auditing.sign_checkpoint(keyed)

    def test_pubkey_is_note_format(self, keyed: Installation) -> None:
        """The verifier key is printed as name+hexkeyid+base64."""
        name, kid, _ = auditing.pubkey(keyed).split("+", 2)
        assert name == keyed.config.log_origin and len(kid) == 8
