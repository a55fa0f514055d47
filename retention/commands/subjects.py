"""`gdpr candidate` and `gdpr consent`: personal data, every command through the audited gateway."""

from __future__ import annotations

from pathlib import Path

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import contact_options, json_option, reason_option
from retention.commands.output import emit, when_text
from retention.operations import (
    CandidateView,
    EraseCandidate,
    ExportCandidate,
    FindCandidates,
    ListConsents,
    RecordConsent,
    ShowCandidate,
    UpdateCandidate,
    WithdrawConsent,
    erase_candidate,
    export_candidate,
    find_candidates,
    list_consents,
    record_consent,
    show_candidate,
    update_candidate,
    withdraw_consent,
)
from retention.subjects import parse_subject_id


def _show_candidate(record: CandidateView) -> str:
    return "\n".join(f"{k:<17} {'' if v is None else v}" for k, v in record.fields.items())


@click.group()
def candidate() -> None:
    """Read, export, change and erase data subjects (every access audited)."""


@candidate.command("show")
@click.argument("subject_id", metavar="ID")
@reason_option
@json_option
@pass_app
def candidate_show(app: AppContext, subject_id: str, reason: str | None, as_json: bool) -> None:
    """Show one candidate."""
    request = ShowCandidate(parse_subject_id(subject_id), reason)
    record = show_candidate(app.installation(), app.authenticate(), request)
    emit(as_json, record, lambda: _show_candidate(record))


@candidate.command("find")
@click.option("--email", help="Exact e-mail address (case-insensitive).")
@click.option("--external-ref", help="The ATS reference.")
@reason_option
@json_option
@pass_app
def candidate_find(
    app: AppContext,
    email: str | None,
    external_ref: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Find candidates you may read by e-mail address or ATS reference."""
    if (email is None) == (external_ref is None):
        raise click.UsageError("give exactly one of --email or --external-ref")
    request = FindCandidates(email=email, external_ref=external_ref, reason=reason)
    found = find_candidates(app.installation(), app.authenticate(), request)
    emit(
        as_json,
        found,
        lambda: "\n\n".join(_show_candidate(d) for d in found) or "No candidate found.",
    )


@candidate.command("export")
@click.argument("subject_id", metavar="ID")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    required=True,
    help="File to create (never replaced), or - for standard output.",
)
@reason_option
@json_option
@pass_app
def candidate_export(
    app: AppContext, subject_id: str, out: Path, reason: str | None, as_json: bool
) -> None:
    """Export everything held about a candidate as JSON (GDPR Articles 15 and 20)."""
    to_stdout = str(out) == "-"
    request = ExportCandidate(parse_subject_id(subject_id), None if to_stdout else out, reason)
    result = export_candidate(app.installation(), app.authenticate(), request)
    if result.data is not None:  # the document itself is the output
        click.echo(result.data, nl=False)  # bytes go to the binary stream as they are
        return
    emit(
        as_json,
        result,
        f"Exported {result.subject} to {result.path} (sha256 {result.sha256}).",
    )


@candidate.command("update")
@click.argument("subject_id", metavar="ID")
@contact_options
@reason_option
@json_option
@pass_app
def candidate_update(
    app: AppContext, /, subject_id: str, reason: str | None, as_json: bool, **fields: str | None
) -> None:
    """Change a candidate's contact fields."""
    key = parse_subject_id(subject_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    request = UpdateCandidate(key, changes, reason)
    record = update_candidate(app.installation(), app.authenticate(), request)
    emit(as_json, record, f"Updated {', '.join(sorted(changes))} of {key}.")


@candidate.command("erase")
@click.argument("subject_id", metavar="ID")
@click.option("--reason", required=True, help="The request being answered (audited).")
@json_option
@pass_app
def candidate_erase(app: AppContext, subject_id: str, reason: str, as_json: bool) -> None:
    """Erase a candidate on request (GDPR Article 17): records now, document files after commit."""
    request = EraseCandidate(parse_subject_id(subject_id), reason)
    done = erase_candidate(app.installation(), app.authenticate(), request)
    emit(
        as_json,
        done,
        f"Erased {done.subject}: {done.applications} applications, {done.consents} consents, "
        f"{done.documents} documents ({done.files_removed} files removed).",
    )


@click.group()
def consent() -> None:
    """Record, withdraw and list consents (GDPR Article 7)."""


@consent.command("record")
@click.argument("subject_id", metavar="SUBJECT")
@click.option("--purpose", required=True, help="e.g. talent_pool")
@click.option("--notice", required=True, help="Version of the privacy notice shown.")
@click.option("--channel", required=True, help="How consent was given, e.g. 'web form'.")
@click.option("--expires", help="Validity: a duration (24m) or a last day (2027-01-31); <= 10y.")
@click.option("--language", help="Language of the notice shown (its hash is recorded).")
@json_option
@pass_app
def consent_record(
    app: AppContext,
    subject_id: str,
    purpose: str,
    notice: str,
    channel: str,
    expires: str | None,
    language: str | None,
    as_json: bool,
) -> None:
    """Record a consent given now (under a registered notice, its SHA-256 is recorded too)."""
    key = parse_subject_id(subject_id)
    request = RecordConsent(key, purpose, notice, channel, expires, language)
    row = record_consent(app.installation(), app.authenticate(), request)
    emit(
        as_json,
        row,
        f"Recorded consent {row.id} of {key} for {purpose} (notice {notice})"
        + (f", valid until {when_text(row.expires_at)}." if row.expires_at else "."),
    )


@consent.command("withdraw")
@click.argument("subject_id", metavar="SUBJECT")
@click.option("--purpose", required=True, help="The purpose withdrawn, e.g. talent_pool.")
@json_option
@pass_app
def consent_withdraw(app: AppContext, subject_id: str, purpose: str, as_json: bool) -> None:
    """Withdraw a subject's consent for a purpose."""
    key = parse_subject_id(subject_id)
    request = WithdrawConsent(key, purpose)
    done = withdraw_consent(app.installation(), app.authenticate(), request)
    emit(as_json, done, f"Withdrew {done.withdrawn} consent(s) of {key} for {purpose}.")


@consent.command("list")
@click.argument("subject_id", metavar="SUBJECT")
@json_option
@pass_app
def consent_list(app: AppContext, subject_id: str, as_json: bool) -> None:
    """A subject's consent history."""
    request = ListConsents(parse_subject_id(subject_id))
    rows = list_consents(app.installation(), app.authenticate(), request)
    emit(
        as_json,
        rows,
        lambda: (
            "\n".join(
                f"{r.id:>6} {r.purpose:<14} notice {r.notice_version:<10} "
                f"given {when_text(r.given_at)}  expires {when_text(r.expires_at)}  "
                f"withdrawn {when_text(r.withdrawn_at)}"
                for r in rows
            )
            or "No consents."
        ),
    )
