"""`gdpr policy`: check, format, evaluate, test and explain the retention policies."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import click

import policies
from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit
from retention.errors import CheckFailed
from retention.operations import (
    CheckPolicies,
    EvaluateRecords,
    ExplainSubject,
    FormatPolicies,
    RunPolicyTests,
    check_policies,
    evaluate_records,
    explain_subject,
    format_policies,
    run_policy_tests,
)
from retention.subjects import parse_subject_id


@click.group()
def policy() -> None:
    """The policy language: check, format, evaluate and test country policies."""


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


@policy.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@json_option
def policy_check(paths: tuple[Path, ...], as_json: bool) -> None:
    """Parse and lint policy files (default: the shipped packs); exit 1 on any finding."""
    result = check_policies(CheckPolicies(paths))
    emit(as_json, result, lambda: "\n".join(d.render() for d in result.findings) or "Policies OK.")
    if not result.ok:
        raise CheckFailed(f"{_count(len(result.findings), 'finding')} in the policy files")


@policy.command("fmt")
@click.option("--check", is_flag=True, help="Only report files that are not canonical (exit 1).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
def policy_fmt(check: bool, paths: tuple[Path, ...], as_json: bool) -> None:
    """Rewrite policy files in the canonical layout (comments kept)."""
    result = format_policies(FormatPolicies(paths, check=check))
    if as_json:
        emit(True, result, "")
    for path in [] if as_json else result.changed:
        click.echo(f"{'would reformat' if check else 'reformatted'} {path}")
    if check and result.changed:
        raise CheckFailed(f"{_count(len(result.changed), 'file')} not in the canonical layout")


@policy.command("evaluate")
@click.option(
    "--records",
    "records_file",
    required=True,
    type=click.File("rb"),
    help="JSON Lines file of records to decide, one object a line (- for standard input).",
)
@click.option("--at", "at_text", required=True, help="Evaluation instant (ISO 8601).")
@click.option(
    "--policies",
    "policy_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Policy file or folder (repeatable; default: the shipped packs).",
)
@json_option
def policy_evaluate(
    records_file: BinaryIO, at_text: str, policy_paths: tuple[Path, ...], as_json: bool
) -> None:
    """Decide each record of a JSON Lines file; exit 1 if any record cannot be decided.

    With --json, prints one JSON array: an object per record, in file order.
    """
    at = policies.parse_instant(at_text, "--at")
    assert at is not None  # a required option: parse_instant returns None only for None
    records = policies.decode_utf8(records_file.read(), records_file.name).splitlines()
    result = evaluate_records(EvaluateRecords(records, at, policy_paths))

    def text() -> str:
        lines = []
        for outcome in result.outcomes:
            data = outcome.to_json()
            if "error" in data:
                lines.append(f"{data['id']}: error: {data['error']}")
            else:
                due = "due" if data["due"] else "held" if data.get("held") else "not due"
                lines.append(
                    f"{data['id']}: {data['policy']}/{data['rule']} {data['action']}"
                    f" at {data['due_at'] or 'never'} ({due})"
                )
        return "\n".join(lines)

    if result.outcomes or as_json:
        emit(as_json, result, text)
    if result.undecided:
        raise CheckFailed(f"{_count(result.undecided, 'record')} could not be decided")


@policy.command("test")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@json_option
def policy_test(path: Path | None, as_json: bool) -> None:
    """Run the policy test files (default: the shipped packs' tests); exit 1 on a failure."""
    report = run_policy_tests(RunPolicyTests(path))

    def text() -> str:
        lines = [
            f"{r.file}:{r.line}: FAIL {r.desc}: {'; '.join(r.mismatches)}" for r in report.failures
        ]
        lines.append(f"{report.passed} passed, {len(report.failures)} failed")
        return "\n".join(lines)

    emit(as_json, report, text)
    if report.failures:
        raise CheckFailed(f"{_count(len(report.failures), 'policy test')} failed")


@policy.command("explain")
@click.argument("subject_id", metavar="SUBJECT")
@click.option("--at", "at_text", help="Evaluation instant (ISO 8601; default now).")
@click.option("--reason", help="Why you read this subject (required for a blocked one).")
@json_option
@pass_app
def policy_explain(
    app: AppContext, subject_id: str, at_text: str | None, reason: str | None, as_json: bool
) -> None:
    """Trace the retention decision on one stored subject: each rule tried, dates, holds."""
    at = policies.parse_instant(at_text, "--at") if at_text else None
    request = ExplainSubject(parse_subject_id(subject_id), at, reason)
    trace = explain_subject(app.installation(), app.authenticate(), request)
    emit(as_json, trace, trace.text)
