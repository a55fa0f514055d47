"""Policy test files: records with expected decisions that pin what a policy change must keep.

Like `opa test`: each pack has a JSON Lines file under countries/tests/, one case per line:
`{"desc", "at", "record": {...}, "expect": {...}}`. `expect` holds the keys of the
`gdpr policy evaluate` output to compare (or `{"error": "..."}`); keys left out are not checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import PolicyTestError
from .evaluator import evaluator_for
from .files import read_utf8
from .model import PolicySet, load_policy_set
from .records import RecordFormatError, parse_instant, record_from_json


@dataclass(frozen=True, slots=True)
class PolicyTestResult:
    """One case: where it is, what it says, and the mismatches (empty when it passed)."""

    file: str
    line: int
    desc: str
    mismatches: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def test_files(path: str | Path) -> list[Path]:
    """The test files under a policy dir (its tests/), a tests dir, or one file."""
    p = Path(path)
    if p.is_file():
        return [p]
    tests = p / "tests" if (p / "tests").is_dir() else p
    return sorted([*tests.glob("*.jsonl"), *tests.glob("*.json")])


def run_policy_tests(
    path: str | Path, policy_set: PolicySet | None = None
) -> list[PolicyTestResult]:
    """Run every case; the policies are those of the directory above the tests unless given."""
    files = test_files(path)
    if policy_set is None:
        p = Path(path)
        policy_dir = (
            p if p.is_dir() and (p / "tests").is_dir() else (p if p.is_dir() else p.parent).parent
        )
        policy_set = load_policy_set([policy_dir])
    evaluator = evaluator_for(policy_set)
    results = []
    for f in files:
        for number, raw in enumerate(read_utf8(f).splitlines(), 1):
            if not raw.strip():
                continue
            try:
                case = json.loads(raw)
                at = parse_instant(case["at"], "at")
                record = record_from_json(case["record"])
                expect = dict(case["expect"])
            except (ValueError, KeyError, TypeError, RecordFormatError) as err:
                raise PolicyTestError(f"{f}:{number}: not a policy test case ({err})") from None
            assert at is not None
            got = evaluator.evaluate(record, at).to_json()
            mismatches = tuple(
                f"{key}: expected {value!r}, got {got.get(key)!r}"
                for key, value in expect.items()
                if got.get(key) != value
            )
            results.append(PolicyTestResult(str(f), number, case.get("desc", ""), mismatches))
    return results
