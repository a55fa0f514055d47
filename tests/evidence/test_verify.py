"""Offline verification of evidence packs, against a pristine pack and systematically edited ones."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from audit_log import Signer, sign_note
from audit_log.note import parse_note
from retention.errors import BadInput
from retention.evidence import verify_pack, verify_path
from retention.evidence.pack import FileDigest, Manifest, PackFile, fingerprint
from tests.evidence_support import PACK_FILES, flip_byte


def pack_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def reseal(root: Path, signer: Signer) -> None:
    """What an insider holding the signing key could do: recompute the manifest and re-sign it."""
    manifest = Manifest.from_bytes((root / PackFile.MANIFEST).read_bytes())
    digests = []
    for d in manifest.files:
        data = (root / d.path).read_bytes()
        digests.append(FileDigest(d.path, hashlib.sha256(data).hexdigest(), len(data)))
    fresh = Manifest(
        manifest.origin,
        manifest.created_at,
        manifest.period,
        manifest.checkpoint_size,
        manifest.retention_actions,
        tuple(digests),
    )
    raw = fresh.to_bytes()
    (root / PackFile.MANIFEST).write_bytes(raw)
    (root / PackFile.MANIFEST_SIG).write_text(sign_note(raw.decode(), signer))


def key_of(signer: Signer) -> str:
    return str(signer.verifier)


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


class TestPristine:
    def test_pack_verifies(self, pack: Path, signer: Signer) -> None:
        """An untouched pack verifies with the verifier key given explicitly."""
        report = verify_pack(pack, key_of(signer))
        assert report.ok, report.summary()
        assert report.key_source == "given"
        assert report.entries == report.period["last_seq"] - report.period["first_seq"] + 1
        assert report.action_rows > 0
        assert report.consistency_from is not None

    def test_summary_names_what_holds(self, pack: Path, signer: Signer) -> None:
        """The summary says OK and states the checkpoint, the CSV match and the fingerprint."""
        text = verify_pack(pack, key_of(signer)).summary()
        assert text.startswith("OK: evidence pack")
        assert "retention-actions.csv" in text and "fingerprint" in text

    def test_zip_verifies(self, pack: Path, tmp_path: Path, signer: Signer) -> None:
        """A zipped pack (one folder inside) verifies like the folder."""
        archive = tmp_path / (pack.name + ".zip")
        with zipfile.ZipFile(archive, "w") as zf:
            for name in pack_files(pack):
                zf.write(pack / name, f"{pack.name}/{name}")
        report = verify_path(archive, key_of(signer))
        assert report.ok, report.summary()
        assert report.path == str(archive)

    def test_zip_with_unsafe_path_is_refused(self, tmp_path: Path) -> None:
        """A zip whose members would land outside the extraction folder is refused as bad input."""
        archive = tmp_path / "evil.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("../outside.txt", "x")
        with pytest.raises(BadInput, match="unsafe path"):
            verify_path(archive)

    def test_bad_key_argument_is_bad_input(self, pack: Path) -> None:
        """A --key that is not a verifier key is a usage error, not a verification failure."""
        with pytest.raises(BadInput, match="--key"):
            verify_pack(pack, "not-a-key")


class TestEditedFiles:
    @pytest.mark.parametrize(
        "name",
        PACK_FILES,
    )
    def test_one_changed_byte_fails_naming_the_file(self, pack: Path, name: str) -> None:
        """Changing one byte of any file of the pack fails verification and names that file."""
        assert name in pack_files(pack)
        flip_byte(pack / name, at=len((pack / name).read_bytes()) - 40)
        report = verify_pack(pack)
        assert not report.ok
        assert name in {p.file for p in report.problems}, report.summary()

    def test_every_file_is_covered_by_the_parametrization(self, pack: Path) -> None:
        """The byte-change test above lists every file an export writes."""
        covered = self.test_one_changed_byte_fails_naming_the_file.pytestmark[0].args[1]
        assert pack_files(pack) == sorted(covered)

    def test_added_file_fails(self, pack: Path) -> None:
        """A file that the signed manifest does not list is reported."""
        (pack / "extra.csv").write_text("a,b\n")
        report = verify_pack(pack)
        assert [p.file for p in report.problems] == ["extra.csv"]


class TestEditedCsv:
    def test_removed_action_line_names_the_line(self, pack: Path) -> None:
        """A line removed from retention-actions.csv fails at that line, even with the manifest
        recomputed and re-signed by the key holder."""
        path = pack / PackFile.ACTIONS
        rows = lines_of(path)
        del rows[3]
        path.write_bytes(b"".join(rows))
        report = verify_pack(pack)
        assert {p.file for p in report.problems} == {"retention-actions.csv"}
        assert any(p.where == "line 4" for p in report.problems), report.summary()

    def test_removed_action_line_with_resealed_manifest(self, pack: Path, signer: Signer) -> None:
        """With a re-signed manifest, only the line-by-line match with the entries catches it."""
        path = pack / PackFile.ACTIONS
        rows = lines_of(path)
        seq = rows[3].split(b",")[0].decode()
        del rows[3]
        path.write_bytes(b"".join(rows))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        assert [str(p) for p in report.problems] == [
            f"retention-actions.csv line 4: does not match audit entry {seq}: "
            + report.problems[0].message.split(": ", 1)[1]
        ]

    def test_last_action_line_removed(self, pack: Path, signer: Signer) -> None:
        """Dropping the last CSV line is found: an entry of the period has no line."""
        path = pack / PackFile.ACTIONS
        path.write_bytes(b"".join(lines_of(path)[:-1]))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        assert report.problems[0].file == "retention-actions.csv"
        assert "ends early" in report.problems[0].message

    def test_extra_action_line(self, pack: Path, signer: Signer) -> None:
        """A line no entry gives is found."""
        path = pack / PackFile.ACTIONS
        rows = lines_of(path)
        path.write_bytes(b"".join([*rows, rows[-1]]))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        assert report.problems[0].file == "retention-actions.csv"
        assert "no audit entry" in report.problems[0].message

    def test_removed_hold_line(self, pack: Path) -> None:
        """A line removed from holds.csv fails its manifest hash."""
        path = pack / PackFile.HOLDS
        path.write_bytes(b"".join(lines_of(path)[:-1]))
        report = verify_pack(pack)
        assert [p.file for p in report.problems] == ["holds.csv"]
        assert "manifest says" in report.problems[0].message


class TestEditedLog:
    def test_removed_entry(self, pack: Path, signer: Signer) -> None:
        """An entry removed from the middle is found at its line, whatever the manifest says."""
        path = pack / PackFile.AUDIT_LOG
        rows = lines_of(path)
        removed = json.loads(rows[5])["seq"]
        del rows[5]
        path.write_bytes(b"".join(rows))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        first = report.problems[0]
        assert (first.file, first.where) == ("audit-log.jsonl", "line 6")
        assert f"follows entry {removed - 1}" in first.message

    def test_reordered_entries(self, pack: Path, signer: Signer) -> None:
        """Two entries swapped are found at the first out-of-place line."""
        path = pack / PackFile.AUDIT_LOG
        rows = lines_of(path)
        rows[5], rows[6] = rows[6], rows[5]
        path.write_bytes(b"".join(rows))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        assert (report.problems[0].file, report.problems[0].where) == ("audit-log.jsonl", "line 6")

    def test_changed_entry(self, pack: Path, signer: Signer) -> None:
        """A changed entry breaks the link of the entry after it."""
        path = pack / PackFile.AUDIT_LOG
        rows = lines_of(path)
        rows[7] = (
            rows[7]
            .replace(b'"outcome":"denied"', b'"outcome":"ok"')
            .replace(b'"outcome":"error"', b'"outcome":"ok"')
        )
        rows[7] = rows[7].replace(b'"reason":"', b'"reason":"x', 1)
        path.write_bytes(b"".join(rows))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        assert (report.problems[0].file, report.problems[0].where) == ("audit-log.jsonl", "line 9")

    def test_last_entry_removed(self, pack: Path, signer: Signer) -> None:
        """Dropping the period's last entry is found (the pack's period says where it ends)."""
        path = pack / PackFile.AUDIT_LOG
        path.write_bytes(b"".join(lines_of(path)[:-1]))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        assert report.problems[0].file == "audit-log.jsonl"


class TestSignatures:
    def test_checkpoint_signed_by_another_key(self, pack: Path, signer: Signer) -> None:
        """A checkpoint re-signed by another key fails at checkpoint.txt."""
        other = Signer.generate(signer.name)
        text, _ = parse_note((pack / PackFile.CHECKPOINT).read_text())
        (pack / PackFile.CHECKPOINT).write_text(sign_note(text, other))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        assert [p.file for p in report.problems] == ["checkpoint.txt"]
        assert "not signed by" in report.problems[0].message

    def test_manifest_resigned_with_another_key_and_key_given(
        self, pack: Path, signer: Signer
    ) -> None:
        """A pack re-signed by an impostor, key file replaced too, fails with the real --key."""
        other = Signer.generate(signer.name)
        (pack / PackFile.VERIFIER_KEY).write_text(str(other.verifier) + "\n")
        reseal(pack, other)
        report = verify_pack(pack, key_of(signer))
        files = [p.file for p in report.problems]
        assert "manifest.sig" in files and "verifier-key.txt" in files
        # Without --key the impostor's key is taken from the pack: the log's checkpoint still
        # betrays it, and the fingerprint differs from the one published on another channel.
        alone = verify_pack(pack)
        assert "checkpoint.txt" in {p.file for p in alone.problems}
        assert alone.fingerprint != fingerprint((key_of(signer) + "\n").encode())

    def test_consistency_proof_from_forged_checkpoint(self, pack: Path, signer: Signer) -> None:
        """A consistency proof whose start checkpoint is signed by another key fails."""
        proofs = json.loads((pack / PackFile.PROOFS).read_text())
        text, _ = parse_note(proofs["consistency"]["from_checkpoint"])
        proofs["consistency"]["from_checkpoint"] = sign_note(text, Signer.generate(signer.name))
        (pack / PackFile.PROOFS).write_text(json.dumps(proofs))
        reseal(pack, signer)
        report = verify_pack(pack, key_of(signer))
        assert [(p.file, p.where) for p in report.problems] == [("proofs.json", "consistency")]
