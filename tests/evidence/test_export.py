"""Exporting evidence packs from a seeded installation (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

import csv
import json
import re
import uuid
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from audit_log import Signer
from audit_log.schema import audit_entry
from retention.errors import BadInput, CheckFailed
from retention.evidence import ExportRequest, export_pack, load_signer, verify_path
from retention.evidence.export import EXPORT_ACTION
from retention.evidence.pack import Manifest, PackFile
from retention.evidence.seal import period_bounds
from retention.install import Installation
from retention.store import Candidate
from retention.testing import FixedClock
from tests.evidence_support import EXPORT_AT, PACK_FILES, PERIOD, POLICIES, export, seed

EXPECTED_FILES = set(PACK_FILES)


def files_of(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class TestPack:
    def test_layout_and_verification(self, installation: Installation, tmp_path: Path) -> None:
        """An export writes exactly the listed files under EVIDENCE_<from>_<to>_<made>/ and
        the result verifies offline."""
        seed(installation)
        path = export(installation, tmp_path / "out")
        assert path.name == "EVIDENCE_2026-09-01_2026-10-31_20261122"
        assert files_of(path) == EXPECTED_FILES
        assert [p.name for p in (tmp_path / "out").iterdir()] == [path.name]
        assert verify_path(path).ok

    def test_no_personal_data_in_the_pack(self, installation: Installation, tmp_path: Path) -> None:
        """No seeded name, e-mail, phone, note or hold reason appears in any file of the pack."""
        seeded = seed(installation)
        path = export(installation, tmp_path)
        blob = b"".join((path / f).read_bytes() for f in sorted(files_of(path)))
        text = blob.decode("utf-8")
        for value in seeded.personal:
            assert value not in text
            for part in value.split():
                if len(part) > 6 and "@" not in part:
                    assert part not in text, "a word of a personal value is in the pack"
        assert "Claim filed by" not in text

    def test_log_holds_the_period_and_the_entry_before(
        self, installation: Installation, tmp_path: Path
    ) -> None:
        """audit-log.jsonl is the stored bytes of entries prior..last, one per line, and the
        entries of the period are exactly those stamped within it."""
        seed(installation)
        path = export(installation, tmp_path)
        manifest = Manifest.from_bytes((path / PackFile.MANIFEST).read_bytes())
        p = manifest.period
        start, end = period_bounds(*PERIOD, installation.config.zone)
        with installation.engine.connect() as conn:
            stored = conn.execute(
                select(audit_entry.c.seq, audit_entry.c.canonical, audit_entry.c.ts).order_by(
                    audit_entry.c.seq
                )
            ).all()
        inside = [s for s, _, ts in stored if start <= ts.replace(tzinfo=UTC) < end]
        assert (p.first_seq, p.last_seq) == (inside[0], inside[-1])
        assert p.prior_seq == inside[0] - 1
        lines = (path / PackFile.AUDIT_LOG).read_bytes().split(b"\n")
        assert lines[-1] == b""
        want = [bytes(c) for s, c, _ in stored if p.prior_seq <= s <= p.last_seq]
        assert lines[:-1] == want

    def test_actions_csv_lists_the_retention_actions(
        self, installation: Installation, tmp_path: Path
    ) -> None:
        """retention-actions.csv has one row per retention action entry of the period."""
        seeded = seed(installation)
        path = export(installation, tmp_path)
        actions = rows(path / PackFile.ACTIONS)
        assert len(actions) == seeded.actions_in_period
        assert {a["action"] for a in actions} <= {"anonymize", "delete", "block", "review"}
        assert all(a["policy_hash"] == POLICIES.set_hash and a["cite"] for a in actions)

    def test_export_is_audited_and_covered(
        self, installation: Installation, tmp_path: Path
    ) -> None:
        """The export appends an evidence.export entry, and the pack's checkpoint covers it."""
        seed(installation)
        path = export(installation, tmp_path)
        with installation.engine.connect() as conn:
            last = conn.execute(
                select(audit_entry.c.seq, audit_entry.c.action, audit_entry.c.actor)
                .order_by(audit_entry.c.seq.desc())
                .limit(1)
            ).one()
        assert (last.action, last.actor) == (EXPORT_ACTION, "dpo")
        manifest = Manifest.from_bytes((path / PackFile.MANIFEST).read_bytes())
        assert manifest.checkpoint_size == last.seq + 1
        witness = installation.config.witness_file.read_text()
        assert (path / PackFile.CHECKPOINT).read_text() in witness

    def test_csvs_and_policies(self, installation: Installation, tmp_path: Path) -> None:
        """holds, consents, access and the policy texts hold what the database and the policy
        set say, with UUIDs in their dashed form."""
        seeded = seed(installation)
        path = export(installation, tmp_path)
        holds = rows(path / PackFile.HOLDS)
        assert [h["subject"] for h in holds] == [str(seeded.subjects[0])]
        assert holds[0]["case_ref"] == "LIT-2026-014"
        consents = rows(path / PackFile.CONSENTS)
        assert sum(int(c["given"]) for c in consents) == 12
        assert sum(int(c["withdrawn"]) for c in consents) == 3
        access = rows(path / PackFile.ACCESS)
        assert {a["principal"] for a in access if a["kind"] == "activity"} >= {"recruiter-de"}
        assert (path / "policies/nl.policy").read_text() == dict(POLICIES.files)["nl.policy"]
        index = json.loads((path / "policies/index.json").read_text())
        assert index["policy_set_hash"] == POLICIES.set_hash and index["not_included"] == []

    def test_country_filter(self, installation: Installation, tmp_path: Path) -> None:
        """With --country the derived tables hold only that country; the log stays whole and
        the pack verifies."""
        seed(installation)
        path = export(installation, tmp_path, country="NL")
        assert {a["country"] for a in rows(path / PackFile.ACTIONS)} == {"NL"}  # named in entries
        assert {c["country"] for c in rows(path / PackFile.CONSENTS)} == {"NL"}
        report = verify_path(path)
        assert report.ok, report.summary()
        assert report.period["country"] == "NL"

    def test_zip(self, installation: Installation, tmp_path: Path) -> None:
        """--zip leaves one .zip holding the pack folder, which verifies."""
        seed(installation)
        path = export(installation, tmp_path / "out", zip=True)
        assert [p.name for p in (tmp_path / "out").iterdir()] == [path.name]
        with zipfile.ZipFile(path) as zf:
            assert {n.split("/", 1)[1] for n in zf.namelist()} == EXPECTED_FILES
        assert verify_path(path).ok

    def test_empty_period(self, installation: Installation, tmp_path: Path) -> None:
        """A period without entries still makes a verifiable pack, without inclusion proofs."""
        seed(installation)
        request = ExportRequest(date(2025, 1, 1), date(2025, 1, 31), tmp_path, actor="dpo")
        result = export_pack(
            installation,
            request,
            signer=load_signer(installation),
            policies=POLICIES,
            clock=FixedClock(EXPORT_AT),
        )
        assert result.period.entries == 0
        assert (result.path / PackFile.AUDIT_LOG).read_bytes() == b""
        assert json.loads((result.path / PackFile.PROOFS).read_text())["inclusion"] is None
        assert result.verification is not None and result.verification.ok


class TestReport:
    def test_chart_counts_every_action_by_country(
        self, installation: Installation, tmp_path: Path
    ) -> None:
        """Actions whose entries name no country are charted under their subject's country."""
        seeded = seed(installation)
        path = export(installation, tmp_path)
        html = (path / PackFile.REPORT).read_text()
        assert "<svg" in html
        counts = [
            int(n) for n in re.findall(r"<title>2026-\d\d (?:NL|DE|FR) \w+: (\d+)</title>", html)
        ]
        assert sum(counts) == seeded.actions_in_period
        assert "2026-09 -- " not in html

    def test_backlog_with_the_policy_set(self, installation: Installation, tmp_path: Path) -> None:
        """With the policy set, the backlog counts subjects due and held when the pack is made."""
        from policies import load_default_policy_set

        seed(installation)
        decided = datetime(2026, 3, 1, tzinfo=UTC)
        with installation.engine.begin() as conn:
            conn.execute(
                insert(Candidate.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": uuid.uuid4(),
                        "country": "NL",
                        "status": "rejected",
                        "applied_at": decided,
                        "decided_at": decided,
                        "last_activity_at": decided,
                        "created_at": decided,
                        "updated_at": decided,
                    }
                ],
            )
        request = ExportRequest(*PERIOD, tmp_path, actor="dpo")
        result = export_pack(
            installation,
            request,
            signer=load_signer(installation),
            policies=POLICIES,
            policy_set=load_default_policy_set(),
            clock=FixedClock(EXPORT_AT),
        )
        html = (result.path / PackFile.REPORT).read_text()
        section = html.split("Overdue backlog", 1)[1].split("<h2>", 1)[0]
        cells = re.findall(r"<tr><td>NL</td><td>(\d+)</td><td>(\d+)</td>", section)
        assert cells, section
        due, held = map(int, cells[0])
        assert held == 1  # the seeded legal hold protects one NL subject
        assert due == 1  # rejected long ago, no consent: waiting for the sweep


class TestRefusals:
    def test_existing_pack_is_not_overwritten(
        self, installation: Installation, tmp_path: Path
    ) -> None:
        """A second export of the same period on the same day is refused before any work."""
        seed(installation)
        export(installation, tmp_path)
        with pytest.raises(BadInput, match="already exists"):
            export(installation, tmp_path)

    def test_bad_period_and_country(self, tmp_path: Path) -> None:
        """--to before --from, or a country that is not two letters, is bad input."""
        with pytest.raises(BadInput, match="before --from"):
            ExportRequest(date(2026, 2, 1), date(2026, 1, 1), tmp_path, actor="dpo")
        with pytest.raises(BadInput, match="alpha-2"):
            ExportRequest(date(2026, 1, 1), date(2026, 2, 1), tmp_path, "dpo", country="NLD")

    def test_missing_signing_key(self, installation: Installation) -> None:
        """Without the installation's signing key the export says where it looked."""
        with pytest.raises(BadInput, match="cannot read signing key"):
            load_signer(installation)

    def test_denied_export_writes_nothing(self, installation: Installation, tmp_path: Path) -> None:
        """An authorization hook that refuses stops the export before any file or entry."""
        seed(installation)

        def refuse(conn: object) -> None:
            raise CheckFailed("access denied: evidence:export")

        request = ExportRequest(*PERIOD, tmp_path / "out", actor="intruder")
        with installation.engine.connect() as conn:
            before = conn.execute(
                select(audit_entry.c.seq).order_by(audit_entry.c.seq.desc())
            ).first()
        with pytest.raises(CheckFailed):
            export_pack(installation, request, signer=Signer.generate("x"), authorize=refuse)
        with installation.engine.connect() as conn:
            after = conn.execute(
                select(audit_entry.c.seq).order_by(audit_entry.c.seq.desc())
            ).first()
        assert before == after
        assert not any((tmp_path / "out").iterdir())


class TestIntegrity:
    def test_export_refuses_a_tampered_log(
        self, installation: Installation, tmp_path: Path
    ) -> None:
        """An entry whose stored bytes no longer match its hash stops the export, naming it."""
        seed(installation)
        with installation.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER audit_entry_no_update")
            else:
                conn.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
            q = select(audit_entry.c.canonical).where(audit_entry.c.seq == 100)
            data = bytes(conn.execute(q).scalar_one())
            conn.execute(
                audit_entry.update()
                .where(audit_entry.c.seq == 100)
                .values(
                    canonical=data.replace(b'"svc"', b'"SVC"')
                    .replace(b"scheduler", b"Scheduler")
                    .replace(b"recruiter", b"Recruiter")
                )
            )
        with pytest.raises(CheckFailed, match="audit entry 100 does not match its hash"):
            export(installation, tmp_path / "out")
        assert not any((tmp_path / "out").iterdir())
