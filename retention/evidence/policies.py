"""policies/ of an evidence pack: the exact policy texts in force, their hashes, and what is missing.

An auditor reads the rules the engine applied, as the DPO wrote them, and ties them to the actions
through the policy set's content hash that the sweep records with every action. Texts are written
byte for byte as loaded (not reformatted), with `index.json` giving each file's SHA-256, the set's
hash, every hash the period's actions and sweep runs name, and which of those have no text in the
pack (a policy version replaced before the export: the engine does not keep old texts).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from policies import PolicySet
from retention.evidence.pack import POLICIES_DIR, FileDigest

__all__ = ["PolicyTexts", "policy_texts", "write_policies"]


@dataclass(frozen=True, slots=True)
class PolicyTexts:
    """The policy texts in force and the content hash the sweep records next to its actions."""

    set_hash: str
    files: tuple[tuple[str, str], ...]


def policy_texts(policy_set: PolicySet) -> PolicyTexts:
    """The exact texts of a policy set's files and its content hash."""
    return PolicyTexts(
        set_hash=policy_set.content_hash,
        files=tuple((Path(f.path).name, f.text) for f in policy_set.files),
    )


def write_policies(
    root: Path, policies: PolicyTexts | None, referenced: set[str]
) -> list[FileDigest]:
    """Write policies/ under the pack folder `root`; returns the digests of what was written."""
    folder = root / POLICIES_DIR
    folder.mkdir()
    out: list[FileDigest] = []
    files: list[dict[str, str]] = []
    for fname, text in policies.files if policies else ():
        base = Path(fname).name
        out.append(_write(folder, base, text.encode("utf-8")))
        files.append({"file": base, "sha256": out[-1].sha256})
    index = {
        "policy_set_hash": policies.set_hash if policies else None,
        "files": files,
        "referenced_by_actions": sorted(referenced),
        "not_included": sorted(referenced - ({policies.set_hash} if policies else set())),
    }
    out.append(_write(folder, "index.json", json.dumps(index, indent=2).encode() + b"\n"))
    return out


def _write(folder: Path, name: str, data: bytes) -> FileDigest:
    (folder / name).write_bytes(data)
    return FileDigest(f"{POLICIES_DIR}/{name}", hashlib.sha256(data).hexdigest(), len(data))
