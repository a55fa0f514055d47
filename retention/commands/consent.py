"""`gdpr notice` and the lifecycle commands of `gdpr consent`: receipts, campaigns, the report.

The `consent` group itself (record, withdraw, list) lives with the candidate commands in
`subjects.py`; this module adds its lifecycle commands to it.
"""

from __future__ import annotations

from pathlib import Path

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit, when_text
from retention.commands.subjects import consent
from retention.errors import CheckFailed, EngineError
from retention.operations import (
    AddNotice,
    ConsentReceipt,
    ConsentReport,
    ListNotices,
    RunCampaign,
    ShowNotice,
    VerifyReceipt,
    add_consent_notice,
    consent_receipt,
    consent_report,
    list_consent_notices,
    run_campaign,
    show_consent_notice,
    verify_consent_receipt,
)
from retention.subjects import parse_subject_id

__all__ = ["notice"]


@click.group()
def notice() -> None:
    """Privacy notices: the exact text consents are given under (GDPR Article 7(1))."""


@notice.command("add")
@click.argument("purpose")
@click.option("--version", "version", required=True, help="Version of the notice, e.g. 2026-01.")
@click.option("--language", required=True, help="ISO 639-1 code of the text, e.g. en, nl, ar.")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="The notice text (UTF-8), stored byte for byte with its SHA-256.",
)
@json_option
@pass_app
def notice_add(
    app: AppContext, purpose: str, version: str, language: str, path: Path, as_json: bool
) -> None:
    """Store a notice's exact text and SHA-256."""
    request = AddNotice(purpose, version, language, path.read_bytes())
    view = add_consent_notice(app.installation(), app.authenticate(), request)
    emit(
        as_json,
        view,
        f"Added notice {view.purpose} {view.version} ({view.language}), sha256 {view.sha256}.",
    )


@notice.command("list")
@click.option("--purpose", help="Only this purpose.")
@json_option
@pass_app
def notice_list(app: AppContext, purpose: str | None, as_json: bool) -> None:
    """The registered notices."""
    views = list_consent_notices(app.installation(), app.authenticate(), ListNotices(purpose))
    emit(
        as_json,
        views,
        lambda: (
            "\n".join(
                f"{v.purpose:<16} {v.version:<12} {v.language:<4} {v.sha256}  {when_text(v.created_at)}"
                for v in views
            )
            or "No notices."
        ),
    )


@notice.command("show")
@click.argument("purpose")
@click.option("--version", "version", required=True, help="Version of the notice.")
@click.option("--language", required=True, help="Language of the text.")
@json_option
@pass_app
def notice_show(app: AppContext, purpose: str, version: str, language: str, as_json: bool) -> None:
    """A notice's exact text and hash."""
    view = show_consent_notice(
        app.installation(), app.authenticate(), ShowNotice(purpose, version, language)
    )
    emit(
        as_json,
        view,
        lambda: (
            f"# {view.purpose} {view.version} ({view.language}) sha256 {view.sha256}\n"
            + (view.text or "")
        ),
    )


@consent.command("receipt")
@click.argument("subject_id", metavar="SUBJECT")
@click.argument("purpose")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="File to create (never replaced; mode 600: it names the subject).",
)
@json_option
@pass_app
def consent_receipt_cmd(
    app: AppContext, subject_id: str, purpose: str, out: Path, as_json: bool
) -> None:
    """Write a signed ISO/IEC TS 27560 record and Kantara v1.1 receipt of a consent."""
    request = ConsentReceipt(parse_subject_id(subject_id), purpose, out)
    done = consent_receipt(app.installation(), app.authenticate(), request)
    emit(
        as_json,
        done,
        f"Wrote the consent receipt of {done.subject} for {purpose} to {done.path} "
        f"({done.events} events), signed by {done.key}.\n"
        f"Verify offline: gdpr consent verify-receipt {done.path} --key VERIFIER_KEY_FILE",
    )


@consent.command("verify-receipt")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Verifier key file (note format); default: the installation's.",
)
@json_option
@pass_app
def consent_verify_receipt(
    app: AppContext, path: Path, key_file: Path | None, as_json: bool
) -> None:
    """Verify a consent receipt's signature offline; exit 1 if it does not verify."""
    installation = None
    if key_file is None:
        try:
            installation = app.installation()
        except EngineError:
            raise click.UsageError("give --key VERIFIER_KEY_FILE outside an installation") from None
    check = verify_consent_receipt(installation, VerifyReceipt(path, key_file))
    emit(as_json, check, check.reason if check.ok else f"FAILED: {check.reason}")
    if not check.ok:
        raise CheckFailed(f"consent receipt does not verify: {check.reason}")


@consent.group("campaign")
def campaign() -> None:
    """Renewal campaigns: ask before consent runs out (never renew on silence)."""


@campaign.command("run")
@click.option("--dry-run", is_flag=True, help="Report what is due; queue and send nothing.")
@json_option
@pass_app
def campaign_run(app: AppContext, dry_run: bool, as_json: bool) -> None:
    """Record expiries, queue the asks and reminders due, send them through [mail]."""
    result = run_campaign(app.installation(), app.authenticate(), RunCampaign(dry_run))
    c = result.counts.to_json()

    def text() -> str:
        if result.dry_run:
            return (
                f"Dry run: {c['selected']} message(s) due ({c['asks']} asks, "
                f"{c['reminders']} reminders); nothing queued or sent."
            )
        lines = [
            f"Expired {c['expired']} consent(s) without an answer.",
            f"Queued {c['queued']}; sent {c['sent']} ({c['asks']} asks, {c['reminders']} "
            f"reminders); retry later {c['retried']}; undeliverable {c['undeliverable']}; "
            f"failed {c['failed']}; cancelled {c['cancelled']}.",
        ]
        if not result.mail_configured:
            lines.append("No [mail] in gdpr.toml: nothing was queued or sent.")
        return "\n".join(lines)

    emit(as_json, result, text)


@consent.command("report")
@click.option("--country", help="Only this country (ISO code).")
@json_option
@pass_app
def consent_report_cmd(app: AppContext, country: str | None, as_json: bool) -> None:
    """Renewal figures per country and purpose."""
    rows = consent_report(app.installation(), app.authenticate(), ConsentReport(country))

    def text() -> str:
        if not rows:
            return "No consents with a renewal schedule yet."
        head = (
            f"{'country':<8}{'purpose':<16}{'expiring 30d':>13}{'asked':>7}{'reminded':>9}"
            f"{'renewed':>8}{'withdrawn':>10}{'expired':>8}{'rate':>8}"
        )
        body = [
            f"{r.country:<8}{r.purpose:<16}{r.expiring_30d:>13}{r.asked:>7}{r.reminded:>9}"
            f"{r.renewed:>8}{r.withdrawn:>10}{r.expired_unanswered:>8}"
            f"{'' if r.renewal_rate is None else f'{r.renewal_rate:.0%}':>8}"
            for r in rows
        ]
        return "\n".join([head, *body])

    emit(as_json, rows, text)
