"""`gdpr policy`: check, format, evaluate, test and explain the retention policies."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

import policies
from retention.clock import utc_now
from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit
from retention.install import (
    load_installation_policies,
)
from retention.subjects import explain_subject, parse_subject_id


@click.group()
def policy() -> None:
    """The policy language: check, format, evaluate and test country policies."""


def _policy_paths(paths: tuple[Path, ...]) -> list[Path]:
    return list(paths) or [policies.default_policy_dir()]


@policy.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@json_option
def policy_check(paths: tuple[Path, ...], as_json: bool) -> None:
    """Parse and lint policy files (default: the shipped packs); exit 1 on any finding."""
    found = policies.check_paths(_policy_paths(paths))
    data = [
        {"file": d.file, "line": d.line, "column": d.column, "message": d.message} for d in found
    ]
    emit(as_json, data, lambda: "\n".join(d.render() for d in found) or "Policies OK.")
    if found:
        sys.exit(1)


@policy.command("fmt")
@click.option("--check", is_flag=True, help="Only report files that are not canonical (exit 1).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
def policy_fmt(check: bool, paths: tuple[Path, ...], as_json: bool) -> None:
    """Rewrite policy files in the canonical layout (comments kept)."""
    # Every file is formatted before any is written: a syntax error in one leaves all as they were.
    texts = {path: policies.read_utf8(path) for path in policies.policy_files(paths)}
    formatted = {path: policies.format_text(text, str(path)) for path, text in texts.items()}
    changed = [path for path, text in texts.items() if formatted[path] != text]
    if not check:
        for path in changed:
            path.write_text(formatted[path], encoding="utf-8")
    if as_json:
        emit(True, [{"file": str(p), "canonical": p not in changed} for p in texts], "")
    for path in [] if as_json else changed:
        click.echo(f"{'would reformat' if check else 'reformatted'} {path}")
    if check and changed:
        sys.exit(1)


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
    records_file: Any, at_text: str, policy_paths: tuple[Path, ...], as_json: bool
) -> None:
    """Decide each record of a JSON Lines file; exit 1 if any record cannot be decided."""
    at = policies.parse_instant(at_text, "--at")
    assert at is not None
    evaluator = policies.evaluator_for(policies.load_policy_set(_policy_paths(policy_paths)))
    failed = False
    records = policies.decode_utf8(records_file.read(), records_file.name)
    for number, line in enumerate(records.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            raise policies.RecordFormatError(f"line {number}: not JSON") from None
        outcome = evaluator.evaluate(policies.record_from_json(raw), at).to_json()
        failed = failed or "error" in outcome
        if as_json:
            click.echo(json.dumps(outcome, ensure_ascii=False))
        elif "error" in outcome:
            click.echo(f"{outcome['id']}: error: {outcome['error']}")
        else:
            due = "due" if outcome["due"] else "held" if outcome.get("held") else "not due"
            click.echo(
                f"{outcome['id']}: {outcome['policy']}/{outcome['rule']} {outcome['action']}"
                f" at {outcome['due_at'] or 'never'} ({due})"
            )
    if failed:
        sys.exit(1)


@policy.command("test")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@json_option
def policy_test(path: Path | None, as_json: bool) -> None:
    """Run the policy test files (default: the shipped packs' tests); exit 1 on a failure."""
    results = policies.run_policy_tests(path or policies.default_policy_dir())
    failures = [r for r in results if not r.ok]
    data = {
        "passed": len(results) - len(failures),
        "failed": [
            {"file": r.file, "line": r.line, "desc": r.desc, "mismatches": list(r.mismatches)}
            for r in failures
        ],
    }

    def text() -> str:
        lines = [f"{r.file}:{r.line}: FAIL {r.desc}: {'; '.join(r.mismatches)}" for r in failures]
        lines.append(f"{len(results) - len(failures)} passed, {len(failures)} failed")
        return "\n".join(lines)

    emit(as_json, data, text)
    if failures:
        sys.exit(1)


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
    at = policies.parse_instant(at_text, "--at") if at_text else utc_now()
    policy_set = load_installation_policies(app.config)
    trace = explain_subject(
        app.gateway(), policy_set, parse_subject_id(subject_id), at, reason=reason
    )
    data = {"outcome": trace.outcome.to_json(), "trace": list(trace.lines)}
    emit(as_json, data, trace.text)
