"""Offline verification of an evidence pack: no database, no network, nothing of the engine's state.

An auditor runs this on a pack handed over by the DPO, ideally with the verifier key obtained on
another channel (`--key`). It checks, without stopping at the first problem so that every broken
file is named: the manifest's signature and every file's SHA-256 and size; every audit entry's
hash and its link to the previous one; the inclusion proofs of the period's first and last entries
in the signed checkpoint; the consistency proof from the checkpoint signed before the period; and
that retention-actions.csv is, line by line, what the audit entries of the period say. It reads
the log once, a block of a few megabytes at a time (constant memory for any size).

Only `audit_log`'s pure modules (hashing, notes, proofs), `evidence_pack` and the standard library
are used, so the check does not depend on the database layer it is checking.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit_log import (
    AuditError,
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    Verifier,
    open_note,
)
from retention.errors import BadInput
from retention.evidence.log_check import LogCheck
from retention.evidence.pack import (
    FileDigest,
    Manifest,
    PackFile,
    fingerprint,
    safe_relative_path,
)
from retention.evidence.verdict import PackProblem, PackReport

__all__ = ["PackProblem", "PackReport", "verify_pack", "verify_path"]

_BLOCK = 1 << 20


def verify_path(path: Path, key: str | None = None) -> PackReport:
    """Verify a pack folder or a pack .zip (extracted to a temporary folder first)."""
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="evidence-") as tmp:
            root = _extract(path, Path(tmp))
            report = verify_pack(root, key)
            return _renamed(report, str(path))
    return verify_pack(path, key)


def _renamed(report: PackReport, path: str) -> PackReport:
    return dataclasses.replace(report, path=path)


def _extract(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        for name in names:
            # A pack holds plain relative paths only; anything else could write outside `into`.
            parts = name.rstrip("/").split("/")
            if name.startswith("/") or ".." in parts or "\\" in name:
                raise BadInput(f"{archive}: refusing unsafe path in zip: {name!r}")
        zf.extractall(into)
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and (into / next(iter(tops))).is_dir():
        return into / next(iter(tops))
    return into


def verify_pack(root: Path, key: str | None = None) -> PackReport:
    """Verify the pack folder `root`; `key` is a verifier key (note format) trusted by the caller.

    Raises `BadInput` only when the folder or the given key is unusable; everything found wrong
    inside the pack is reported as a `PackProblem`.
    """
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder (or .zip) holding an evidence pack")
    given: Verifier | None = None
    if key is not None:
        try:
            given = Verifier.from_string(key.strip())
        except AuditError as exc:
            raise BadInput(f"--key: {exc}") from None
    return _Check(root, given).run()


class _Check:
    """One verification run; collects problems instead of stopping at the first."""

    def __init__(self, root: Path, given: Verifier | None) -> None:
        self.root = root
        self.given = given
        self.problems: list[PackProblem] = []
        self.manifest: Manifest | None = None
        self.verifier: Verifier | None = given
        self.fingerprint: str | None = None
        self.checkpoint: Checkpoint | None = None
        self.first_leaf: bytes | None = None
        self.last_leaf: bytes | None = None
        self.entries = 0
        self.action_rows = 0
        self.consistency_from: int | None = None

    def fail(self, file: str, where: str | None, message: str) -> None:
        self.problems.append(PackProblem(file, where, message))

    def run(self) -> PackReport:
        self._key()
        self._manifest()
        if self.manifest is not None:
            digests = {f.path: f for f in self.manifest.files}
            self._files(digests)
            self._checkpoint()
            self._log(digests.get(PackFile.AUDIT_LOG))
            self._proofs()
        m = self.manifest
        period: dict[str, Any] = {}
        if m is not None:
            p = m.period
            period = {
                "from": p.start_date,
                "to": p.end_date,
                "timezone": p.timezone,
                "country": p.country,
                "first_seq": p.first_seq,
                "last_seq": p.last_seq,
            }
        cp = self.checkpoint
        return PackReport(
            path=str(self.root),
            problems=tuple(self.problems),
            key_source="given" if self.given else "pack",
            fingerprint=self.fingerprint,
            origin=m.origin if m else None,
            period=period,
            entries=self.entries,
            checkpoint_size=cp.size if cp else None,
            checkpoint_root=base64.b64encode(cp.root).decode() if cp else None,
            files=len(m.files) if m else 0,
            action_rows=self.action_rows,
            consistency_from=self.consistency_from,
        )

    # --- key and manifest ---------------------------------------------------------------------

    def _key(self) -> None:
        name = PackFile.VERIFIER_KEY
        try:
            raw = (self.root / name).read_bytes()
        except OSError:
            self.fail(name, None, "missing")
            return
        self.fingerprint = fingerprint(raw)
        try:
            in_pack = Verifier.from_string(raw.decode("utf-8").strip())
        except (AuditError, UnicodeDecodeError) as exc:
            self.fail(name, None, f"not a verifier key: {exc}")
            return
        if self.given is not None and str(in_pack) != str(self.given):
            self.fail(
                name,
                None,
                f"the pack's key {in_pack} is not the key given with --key ({self.given})",
            )
        if self.verifier is None:
            self.verifier = in_pack

    def _manifest(self) -> None:
        try:
            data = (self.root / PackFile.MANIFEST).read_bytes()
        except OSError:
            self.fail(PackFile.MANIFEST, None, "missing")
            return
        try:
            self.manifest = Manifest.from_bytes(data)
        except (ValueError, KeyError, TypeError) as exc:
            self.fail(PackFile.MANIFEST, None, f"malformed: {exc}")
        try:
            note = (self.root / PackFile.MANIFEST_SIG).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.fail(PackFile.MANIFEST_SIG, None, "missing or not UTF-8")
            return
        if self.verifier is None:
            self.fail(PackFile.MANIFEST_SIG, None, "no verifier key to check the signature with")
            return
        try:
            text = open_note(note, self.verifier)
        except AuditError as exc:
            self.fail(PackFile.MANIFEST_SIG, None, str(exc))
            return
        if text.encode("utf-8") != data:
            self.fail(
                PackFile.MANIFEST,
                None,
                "is not the text manifest.sig signs (changed after signing)",
            )

    def _files(self, digests: dict[str, FileDigest]) -> None:
        for path, digest in digests.items():
            if not safe_relative_path(path):
                self.fail(PackFile.MANIFEST, None, f"lists an unsafe path {path!r}")
                continue
            if path == PackFile.AUDIT_LOG:
                continue  # hashed while its entries are read (one pass over the largest file)
            target = self.root / path
            try:
                got = _digest_file(target, path)
            except OSError:
                self.fail(path, None, "listed in the manifest but missing")
                continue
            self._compare(digest, got)
        listed = set(digests) | {PackFile.MANIFEST, PackFile.MANIFEST_SIG}
        for found in sorted(_pack_files(self.root)):
            if found not in listed:
                self.fail(found, None, "not listed in the signed manifest")

    def _compare(self, want: FileDigest, got: FileDigest) -> None:
        if got.size != want.size:
            self.fail(want.path, None, f"size {got.size} bytes, manifest says {want.size}")
        elif got.sha256 != want.sha256:
            self.fail(want.path, None, f"SHA-256 {got.sha256}, manifest says {want.sha256}")

    # --- checkpoint, log and proofs -----------------------------------------------------------

    def _checkpoint(self) -> None:
        assert self.manifest is not None
        name = PackFile.CHECKPOINT
        try:
            note = (self.root / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.fail(name, None, "missing or not UTF-8")
            return
        if self.verifier is None:
            return
        try:
            cp = Checkpoint.parse(open_note(note, self.verifier))
        except AuditError as exc:
            self.fail(name, None, str(exc))
            return
        if cp.origin != self.manifest.origin:
            self.fail(
                name, None, f"is for log {cp.origin!r}, the pack for {self.manifest.origin!r}"
            )
        if cp.size != self.manifest.checkpoint_size:
            self.fail(name, None, f"size {cp.size}, manifest says {self.manifest.checkpoint_size}")
        self.checkpoint = cp

    def _log(self, digest: FileDigest | None) -> None:
        assert self.manifest is not None
        if digest is None:
            self.fail(PackFile.MANIFEST, None, f"does not list {PackFile.AUDIT_LOG}")
        check = LogCheck(self.manifest.period, self.manifest.retention_actions, self.fail)
        got = check.run(self.root / PackFile.AUDIT_LOG, self.root / PackFile.ACTIONS)
        self.entries, self.action_rows = check.entries, check.action_rows
        self.first_leaf, self.last_leaf = check.first_leaf, check.last_leaf
        if digest is not None and got is not None:
            self._compare(digest, got)

    def _proofs(self) -> None:
        assert self.manifest is not None
        name = PackFile.PROOFS
        try:
            obj = json.loads((self.root / name).read_bytes())
        except (OSError, ValueError):
            self.fail(name, None, "missing or not JSON")
            return
        cp = self.checkpoint
        if cp is None or not isinstance(obj, dict):
            return
        period = self.manifest.period
        inclusion = obj.get("inclusion")
        if period.entries == 0:
            if inclusion:
                self.fail(name, "inclusion", "present for a period without entries")
        elif not isinstance(inclusion, dict):
            self.fail(name, "inclusion", "missing")
        else:
            checks = (
                ("first", period.first_seq, self.first_leaf),
                ("last", period.last_seq, self.last_leaf),
            )
            for label, seq, leaf in checks:
                self._inclusion(inclusion.get(label), label, seq, leaf, cp)
        self._consistency(obj.get("consistency"), cp)

    def _inclusion(
        self, obj: Any, label: str, seq: int | None, leaf: bytes | None, cp: Checkpoint
    ) -> None:
        where = f"inclusion.{label}"
        try:
            proof = InclusionProof.from_json(obj if isinstance(obj, dict) else {})
            if proof.leaf_index != seq:
                raise ValueError(f"is for entry {proof.leaf_index}, want entry {seq}")
            if proof.tree_size != cp.size or proof.root != cp.root:
                raise ValueError("is not for the tree of checkpoint.txt")
            if leaf is not None and proof.leaf_hash != leaf:
                raise ValueError(f"is for another leaf than entry {seq} in audit-log.jsonl")
            proof.verify()
        except (AuditError, ValueError) as exc:
            self.fail(PackFile.PROOFS, where, str(exc))

    def _consistency(self, obj: Any, cp: Checkpoint) -> None:
        if obj is None:
            return
        where = "consistency"
        assert self.verifier is not None
        try:
            if not isinstance(obj, dict):
                raise ValueError("is not an object")
            old = Checkpoint.parse(open_note(str(obj.get("from_checkpoint", "")), self.verifier))
            proof = ConsistencyProof.from_json(obj.get("proof") or {})
            if old.origin != cp.origin:
                raise ValueError("starts from a checkpoint of another log")
            if (proof.size1, proof.root1) != (old.size, old.root):
                raise ValueError("does not start from its signed checkpoint")
            if (proof.size2, proof.root2) != (cp.size, cp.root):
                raise ValueError("does not end at the tree of checkpoint.txt")
            proof.verify()
        except (AuditError, ValueError) as exc:
            self.fail(PackFile.PROOFS, where, str(exc))
            return
        self.consistency_from = old.size


def _digest_file(path: Path, name: str) -> FileDigest:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
            size += len(block)
    return FileDigest(name, h.hexdigest(), size)


def _pack_files(root: Path) -> Iterator[str]:
    for p in root.rglob("*"):
        if p.is_file() or p.is_symlink():
            yield p.relative_to(root).as_posix()
