"""`gdpr evidence`: export an evidence pack for a period, verify one offline."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import country_option, json_option
from retention.commands.output import emit
from retention.errors import CheckFailed
from retention.evidence import ExportResult
from retention.operations import (
    ExportEvidence,
    VerifyEvidence,
    export_evidence,
    verify_evidence,
)


@click.group()
def evidence() -> None:
    """Evidence packs for auditors: export a period, verify a pack offline."""


@evidence.command("export")
@click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="First day of the period (YYYY-MM-DD, installation timezone).",
)
@click.option(
    "--to",
    "end",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Last day of the period, inclusive.",
)
@country_option("Only this country's actions, holds, reviews, grants, consents (ISO code).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write the pack into.",
)
@click.option("--zip", "as_zip", is_flag=True, help="Write one .zip file instead of a folder.")
@json_option
@pass_app
def evidence_export(
    app: AppContext,
    start: datetime,
    end: datetime,
    country: str | None,
    out: Path,
    as_zip: bool,
    as_json: bool,
) -> None:
    """Export a signed, self-verifying evidence pack of a period (evidence:export; audited)."""
    principal = app.authenticate()
    result = export_evidence(
        app.installation(),
        principal,
        ExportEvidence(start.date(), end.date(), out, country=country, zip=as_zip),
    )
    emit(as_json, result, lambda: _export_text(result))


def _export_text(result: ExportResult) -> str:
    p = result.period
    span = f"entries {p.first_seq}..{p.last_seq}" if p.entries else "no audit entries"
    return "\n".join(
        [
            f"Wrote {result.path}",
            f"  {p.start_date} to {p.end_date}: {span}, {result.action_rows} retention actions, "
            f"checkpoint of size {result.checkpoint_size}, {result.files} files",
            f"  verified: {'OK' if result.verification and result.verification.ok else 'not run'}",
            f"Verifier key: {result.verifier_key}",
            f"Fingerprint:  {result.fingerprint}",
            "Give the fingerprint to the auditor on another channel than the pack.",
        ]
    )


@evidence.command("verify")
@click.argument("pack", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Verifier key file obtained on another channel (default: the pack's own).",
)
@json_option
def evidence_verify(pack: Path, key_file: Path | None, as_json: bool) -> None:
    """Verify an evidence pack offline (no database needed); exit 1 naming what fails."""
    report = verify_evidence(VerifyEvidence(pack, key_file))
    emit(as_json, report, report.summary)
    if not report.ok:
        raise CheckFailed(f"evidence pack does not verify: {report.problems[0]}")
