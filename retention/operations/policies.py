"""The policy language as service operations: check, format, evaluate, test, and explain a subject.

Checking, formatting, evaluating records from a file and running the policy tests touch no
installation and no personal data, so they take no principal (pure operations on files).
Explaining the decision on a stored subject reads that subject's facts: it is a read of personal
data, authorized and audited through the gateway like `candidate show`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import policies
from retention.access import PrincipalView
from retention.clock import Clock, utc_now
from retention.install import Installation, load_installation_policies
from retention.operations.subjects import gateway_for
from retention.results import JSONData
from retention.subjects import explain_subject as explain_stored

__all__ = [
    "CheckPolicies",
    "EvaluateRecords",
    "Evaluation",
    "ExplainSubject",
    "FormatPolicies",
    "PolicyFindings",
    "PolicyFormatting",
    "PolicyTestReport",
    "RunPolicyTests",
    "SubjectExplanation",
    "check_policies",
    "evaluate_records",
    "explain_subject",
    "format_policies",
    "run_policy_tests",
]


def _policy_paths(paths: Iterable[Path]) -> list[Path]:
    return list(paths) or [policies.default_policy_dir()]


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyFindings:
    """Every syntax and lint finding, located; none means the policies are fine."""

    findings: tuple[policies.Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> JSONData:
        return [
            {"file": d.file, "line": d.line, "column": d.column, "message": d.message}
            for d in self.findings
        ]


@dataclass(frozen=True)
class PolicyFormatting:
    """The files not in the canonical layout: rewritten, or (with `check`) only named."""

    changed: tuple[Path, ...]
    check: bool
    files: tuple[Path, ...] = ()  # every file looked at, in order

    def to_json(self) -> JSONData:
        return [{"file": str(p), "canonical": p not in self.changed} for p in self.files]


@dataclass(frozen=True)
class Evaluation:
    """The outcome for each record, in file order: a decision, or why none could be made."""

    outcomes: tuple[policies.Outcome, ...]

    @property
    def undecided(self) -> int:
        return sum(isinstance(o, policies.RecordError) for o in self.outcomes)

    def to_json(self) -> JSONData:
        return [o.to_json() for o in self.outcomes]


@dataclass(frozen=True)
class PolicyTestReport:
    results: tuple[policies.PolicyTestResult, ...]

    @property
    def failures(self) -> list[policies.PolicyTestResult]:
        return [r for r in self.results if not r.ok]

    @property
    def passed(self) -> int:
        return len(self.results) - len(self.failures)

    def to_json(self) -> JSONData:
        return {
            "passed": self.passed,
            "failed": [
                {"file": r.file, "line": r.line, "desc": r.desc, "mismatches": list(r.mismatches)}
                for r in self.failures
            ],
        }


@dataclass(frozen=True)
class SubjectExplanation:
    explanation: policies.Explanation

    def text(self) -> str:
        return self.explanation.text()

    def to_json(self) -> JSONData:
        return {
            "outcome": self.explanation.outcome.to_json(),
            "trace": list(self.explanation.lines),
        }


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckPolicies:
    paths: tuple[Path, ...] = ()  # files or directories; none: the shipped packs


@dataclass(frozen=True)
class FormatPolicies:
    paths: tuple[Path, ...]
    check: bool = False  # only report, write nothing


@dataclass(frozen=True)
class EvaluateRecords:
    records: Iterable[str]  # JSON lines, one record each
    at: datetime
    policies: tuple[Path, ...] = ()


@dataclass(frozen=True)
class RunPolicyTests:
    path: Path | None = None  # none: the shipped packs' tests


@dataclass(frozen=True)
class ExplainSubject:
    subject_id: uuid.UUID
    at: datetime | None = None  # none: now
    reason: str | None = None  # required for a blocked subject


# --- operations ---------------------------------------------------------------------------------


def check_policies(request: CheckPolicies) -> PolicyFindings:
    """Parse and lint policy files."""
    return PolicyFindings(policies.check_paths(_policy_paths(request.paths)))


def format_policies(request: FormatPolicies) -> PolicyFormatting:
    """Rewrite policy files in the canonical layout (comments kept), unless only checking.

    Every file is formatted before any is written: a syntax error in one leaves all as they were.
    """
    texts = {path: policies.read_utf8(path) for path in policies.policy_files(request.paths)}
    formatted = {path: policies.format_text(text, str(path)) for path, text in texts.items()}
    changed = tuple(path for path, text in texts.items() if formatted[path] != text)
    if not request.check:
        for path in changed:
            path.write_text(formatted[path], encoding="utf-8")
    return PolicyFormatting(changed, request.check, tuple(texts))


def evaluate_records(request: EvaluateRecords) -> Evaluation:
    """Decide each record (blank lines skipped); a line that is not JSON is bad input."""
    evaluator = policies.evaluator_for(policies.load_policy_set(_policy_paths(request.policies)))
    outcomes = []
    for number, line in enumerate(request.records, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            raise policies.RecordFormatError(f"line {number}: not JSON") from None
        outcomes.append(evaluator.evaluate(policies.record_from_json(raw), request.at))
    return Evaluation(tuple(outcomes))


def run_policy_tests(request: RunPolicyTests) -> PolicyTestReport:
    """Run the policy test files."""
    return PolicyTestReport(
        tuple(policies.run_policy_tests(request.path or policies.default_policy_dir()))
    )


def explain_subject(
    installation: Installation,
    principal: PrincipalView,
    request: ExplainSubject,
    *,
    clock: Clock = utc_now,
) -> SubjectExplanation:
    """Trace the installation's policies on one stored subject (needs candidate:read)."""
    policy_set = load_installation_policies(installation.config)
    at = request.at or clock()
    gateway = gateway_for(installation, principal, clock=clock)
    return SubjectExplanation(
        explain_stored(gateway, policy_set, request.subject_id, at, reason=request.reason)
    )
