"""The verdict of verifying an evidence pack: each problem found, and the summary of what held.

Separate from the checks themselves so that the CLI, the demo and tests read one value type, as
text for a person (`summary`) or JSON for a program (`to_json`), whatever produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PackProblem", "PackReport"]


@dataclass(frozen=True, slots=True)
class PackProblem:
    """One thing wrong with a pack: the file, where in it (line or entry), and what."""

    file: str
    where: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}{' ' + self.where if self.where else ''}: {self.message}"


@dataclass(frozen=True, slots=True)
class PackReport:
    """What was checked and what failed; `ok` when nothing did."""

    path: str
    problems: tuple[PackProblem, ...]
    key_source: str
    fingerprint: str | None
    origin: str | None = None
    period: dict[str, Any] = field(default_factory=dict)
    entries: int = 0
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    files: int = 0
    action_rows: int = 0
    consistency_from: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": self.path,
            "problems": [
                {"file": p.file, "where": p.where, "message": p.message} for p in self.problems
            ],
            "key_source": self.key_source,
            "fingerprint": self.fingerprint,
            "origin": self.origin,
            "period": self.period,
            "entries": self.entries,
            "checkpoint_size": self.checkpoint_size,
            "checkpoint_root": self.checkpoint_root,
            "files": self.files,
            "action_rows": self.action_rows,
            "consistency_from": self.consistency_from,
        }

    def summary(self) -> str:
        """Lines for a person: the verdict first, then what holds or what failed."""
        if not self.ok:
            head = f"FAILED: {len(self.problems)} problem(s) in {self.path}"
            return "\n".join([head, *(f"  {p}" for p in self.problems)])
        key = (
            "the key given with --key"
            if self.key_source == "given"
            else "the key in the pack: compare its fingerprint with the one published by the DPO"
        )
        span = (
            f"entries {self.period.get('first_seq')}..{self.period.get('last_seq')}"
            if self.entries
            else "no entries"
        )
        consistency = (
            f"consistent with the checkpoint of size {self.consistency_from} signed before "
            "the period"
            if self.consistency_from is not None
            else "no checkpoint was signed before the period (no consistency proof)"
        )
        return "\n".join(
            [
                f"OK: evidence pack {self.path} verifies.",
                f"  period {self.period.get('from')} to {self.period.get('to')}"
                f"{' country ' + str(self.period['country']) if self.period.get('country') else ''}:"
                f" {span} of log {self.origin}",
                f"  {self.files} files match the signed manifest",
                f"  hash chain intact; first and last entries included in the checkpoint of size "
                f"{self.checkpoint_size}; {consistency}",
                f"  retention-actions.csv: {self.action_rows} lines match the audit entries",
                f"  signatures checked with {key}",
                f"  verifier key fingerprint (sha256 of verifier-key.txt): {self.fingerprint}",
            ]
        )
