"""`gdpr import`: upsert an ATS export."""

from __future__ import annotations

from pathlib import Path

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit
from retention.errors import CheckFailed
from retention.operations import ImportCandidates, ImportReport, import_candidates


@click.group("import")
def import_group() -> None:
    """Bring records in from other systems."""


@import_group.command("candidates")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--rejects",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write rejected rows (default FILE.rejects.csv).",
)
@json_option
@pass_app
def import_candidates_command(
    app: AppContext, file: Path, rejects: Path | None, as_json: bool
) -> None:
    """Import candidates from an ATS export (CSV or JSON lines), upserting by external_ref.

    \b
    Columns: external_ref, country, status (required); first_name, last_name, email, phone,
    city, applied_at, decided_at, last_activity_at, talent_pool_consent_given_at,
    talent_pool_consent_expires_at.
    \b
    - UTF-8 with or without BOM; CSV separated by ',' or ';' (or JSON lines);
    - dates YYYY-MM-DD or DD.MM.YYYY (midnight UTC) or ISO 8601 instants (UTC if no offset);
    - countries as ISO codes or English/local names; statuses in common spellings;
    - values that look like spreadsheet formulas (=, @, -, or + outside phone numbers) are
      refused; decided statuses need decided_at;
    - identical duplicate rows count once; a conflicting repeat of an external_ref is rejected.

    Valid rows are imported in one transaction; rejected rows go to the rejects file with their
    line number and a reason, and the command then exits 1.
    """
    request = ImportCandidates(file, rejects)
    report = import_candidates(app.installation(), app.authenticate(), request)
    emit(as_json, report, lambda: _import_text(report))
    if report.rejected:
        rows = "row" if report.rejected == 1 else "rows"
        raise CheckFailed(
            f"{report.rejected:,} {rows} rejected (see {report.rejects_file}); "
            "the other rows were imported"
        )


def _import_text(report: ImportReport) -> str:
    lines = [
        f"Imported {report.file} ({report.format}): {report.rows:,} rows, "
        f"{report.inserted:,} new, {report.updated:,} updated, "
        f"{report.duplicates:,} duplicates, {report.rejected:,} rejected; "
        f"consents {report.consents_added:,} added, {report.consents_updated:,} updated."
    ]
    if report.ignored_columns:
        lines.append(f"Ignored columns: {', '.join(report.ignored_columns)}")
    return "\n".join(lines)
