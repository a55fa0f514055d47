"""`gdpr hold`, `gdpr review` and `gdpr sweep`: legal holds, the review queue and the sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import country_option, json_option
from retention.commands.output import emit, progress_bar, when_text
from retention.errors import BadInput
from retention.operations import (
    DecideReview,
    ListHolds,
    ListReviews,
    PlaceHold,
    PlanSweep,
    ReleaseHold,
    RunSweep,
    decide_review,
    list_holds,
    list_reviews,
    place_hold,
    plan_sweep,
    release_hold,
)
from retention.operations import sweep as run_sweep
from retention.store import ReviewDecision
from retention.subjects import parse_subject_id
from retention.sweep import Plan, SweepResult


def _uuid(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadInput(f"{what} must be a UUID, got '{text[:40]}'") from None


@click.group()
def hold() -> None:
    """Legal holds: suspend every retention action on a subject (hold:manage)."""


@hold.command("place")
@click.argument("subject")
@click.option("--case", "case_ref", required=True, help="Case or matter reference.")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def hold_place(app: AppContext, subject: str, case_ref: str, reason: str, as_json: bool) -> None:
    """Place a legal hold on SUBJECT (a UUID)."""
    principal = app.authenticate()
    placed = place_hold(
        app.installation(),
        principal,
        PlaceHold(parse_subject_id(subject), case_ref=case_ref, reason=reason),
    )
    emit(as_json, placed, f"Hold {placed.id} placed on {placed.subject_id}.")


@hold.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def hold_release(app: AppContext, hold_id: str, reason: str, as_json: bool) -> None:
    """Release the legal hold HOLD_ID; the subject is eligible again at the next sweep."""
    principal = app.authenticate()
    released = release_hold(
        app.installation(), principal, ReleaseHold(_uuid(hold_id, "HOLD_ID"), reason=reason)
    )
    emit(as_json, released, f"Hold {released.id} on {released.subject_id} released.")


@hold.command("list")
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
@json_option
@pass_app
def hold_list(app: AppContext, include_released: bool, as_json: bool) -> None:
    """List active legal holds (newest first)."""
    principal = app.authenticate()
    found = list_holds(app.installation(), principal, ListHolds(include_released))
    emit(
        as_json,
        found,
        lambda: (
            "\n".join(
                f"{h.id}  {h.subject_id}  case {h.case_ref:<16} placed {when_text(h.placed_at)}"
                + ("" if h.active else f"  released {when_text(h.released_at)}")
                for h in found
            )
            or "No legal holds."
        ),
    )


@click.group()
def review() -> None:
    """The review queue: subjects a rule hands to the DPO."""


@review.command("list")
@click.option("--all", "include_decided", is_flag=True, help="Include decided items.")
@json_option
@pass_app
def review_list(app: AppContext, include_decided: bool, as_json: bool) -> None:
    """List open review items (oldest first)."""
    principal = app.authenticate()
    items = list_reviews(app.installation(), principal, ListReviews(include_decided))
    emit(
        as_json,
        items,
        lambda: (
            "\n".join(
                f"{i.subject_id}  {i.country}  {i.policy}/{i.rule}  queued {when_text(i.queued_at)}"
                + (f"  decided {i.decision}" if i.decision else "")
                for i in items
            )
            or "No open reviews."
        ),
    )


@review.command("decide")
@click.argument("subject")
@click.option(
    "--action",
    type=click.Choice(["anonymize", "delete", "keep-until"]),
    required=True,
    help="What to do with the subject.",
)
@click.argument("until", required=False, metavar="[DATE]")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def review_decide(
    app: AppContext, subject: str, action: str, until: str | None, reason: str, as_json: bool
) -> None:
    """Decide the open review of SUBJECT; keep-until takes a DATE (YYYY-MM-DD, UTC)."""
    decision = ReviewDecision.KEEP if action == "keep-until" else ReviewDecision(action)
    keep_until = None
    if decision is ReviewDecision.KEEP:
        if not until:
            raise BadInput(
                "--action keep-until needs a DATE: review decide SUBJECT --action keep-until 2027-01-31 --reason ..."
            )
        try:
            keep_until = datetime.fromisoformat(until).replace(tzinfo=UTC)
        except ValueError:
            raise BadInput(f"'{until}' is not a date: use YYYY-MM-DD") from None
    elif until:
        raise BadInput("a DATE goes only with --action keep-until")
    principal = app.authenticate()
    item = decide_review(
        app.installation(),
        principal,
        DecideReview(parse_subject_id(subject), decision, reason=reason, keep_until=keep_until),
    )
    emit(as_json, item, f"Review of {item.subject_id} decided: {action}.")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only count what would be done (audited as a plan).")
@country_option("Only this country's subjects (ISO code).")
@click.option("--limit", type=click.IntRange(min=1), help="Act on at most N subjects.")
@json_option
@pass_app
def sweep(
    app: AppContext, dry_run: bool, country: str | None, limit: int | None, as_json: bool
) -> None:
    """Anonymize, delete, block or queue for review every subject whose retention expired."""
    principal = app.authenticate()
    installation = app.installation()
    if dry_run:
        if limit is not None:
            raise BadInput("--limit applies to a real sweep, not to --dry-run")
        plan = plan_sweep(installation, principal, PlanSweep(country=country))
        emit(as_json, plan, lambda: _plan_text(plan))
        return
    with progress_bar(None, as_json, "Sweeping") as bar:
        result = run_sweep(
            installation,
            principal,
            RunSweep(country=country, limit=limit),
            progress=bar.at if bar else None,
        )
    emit(as_json, result, lambda: _sweep_text(result))


def _plan_text(plan: Plan) -> str:
    lines = [
        f"Plan at {plan.evaluated_at.isoformat()} (policy set {plan.policy_hash[:16]}): "
        f"{plan.due} due, {plan.held} held, {plan.in_error} in error, of {plan.subjects} subjects."
    ]
    for r in plan.rows:
        lines.append(
            f"  {r.country}  {r.policy}/{r.rule:<22} {r.action:<9} due {r.due:>7}  held {r.held:>5}"
        )
    for e in plan.errors:
        where = f" ({e.policy}/{e.rule})" if e.rule else ""
        lines.append(f"  {e.country}  error {e.cause}: {e.detail}{where}  x{e.count}")
    return "\n".join(lines)


def _sweep_text(result: SweepResult) -> str:
    if result.status == "skipped":
        return f"Another sweep holds the lease ({result.lease_holder}); nothing done."
    return (
        f"Sweep {result.run_id} {result.status}: {result.anonymized} anonymized, "
        f"{result.deleted} deleted, {result.blocked} blocked, {result.reviewed} queued for review"
        f" ({result.unchanged} no longer due, {result.files_removed} files removed)."
    )
