"""`gdpr demo`: the whole product end to end on synthetic data, and `demo seed`."""

from __future__ import annotations

import dataclasses

import click

from retention.access import Role
from retention.api import serve_and_call
from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit, progress_bar
from retention.demo import (
    DEFAULT_CANDIDATES,
    DEFAULT_DOCUMENT_FRACTION,
    DemoRequest,
    DemoSummary,
    SeedDemo,
    SeedReport,
    seed_demo,
)
from retention.demo import demo as run_demo_tour


def _size(n: int) -> str:
    return f"{n / 1000:,.1f} kB" if n < 1_000_000 else f"{n / 1_000_000:,.1f} MB"


def _seed_text(report: SeedReport) -> str:
    return (
        f"Seeded {report.candidates:,} candidates (seed {report.seed}): "
        f"{report.applications:,} applications, {report.consents:,} consents, "
        f"{report.documents:,} documents ({_size(report.document_bytes)})."
    )


@click.group(invoke_without_command=True)
@click.option("--fresh", is_flag=True, help="Wipe a directory made by an earlier gdpr demo first.")
@click.option(
    "--candidates",
    type=click.IntRange(min=0),
    default=DEFAULT_CANDIDATES,
    show_default=True,
    help="How many candidates to seed.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the demo data.")
@json_option
@click.pass_context
def demo(ctx: click.Context, fresh: bool, candidates: int, seed: int, as_json: bool) -> None:
    """Show the whole product on a fresh demo installation in --data-dir.

    Without a subcommand: create the installation, seed candidates and summarize. A directory
    made by an earlier demo is only recreated with --fresh; a real installation is never touched.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(AppContext)
    assert app is not None
    with progress_bar(candidates, as_json, "Seeding candidates") as progress:
        summary = run_demo_tour(app.config, DemoRequest(candidates, seed, fresh), progress=progress)
    summary = _with_api(app, summary)
    emit(as_json, summary, lambda: _demo_text(summary))


def _with_api(app: AppContext, summary: DemoSummary) -> DemoSummary:
    """End the tour with the HTTP API: serve, one allowed and one denied request, stop."""
    tokens = {p.role: p.token for p in summary.principals}
    subject = summary.steps.get("access", {}).get("allowed_subject")
    if Role.DPO not in tokens or Role.ADMIN not in tokens or subject is None:
        return summary
    tour = serve_and_call(app.config, tokens[Role.DPO], tokens[Role.ADMIN], subject)
    steps = {
        **summary.steps,
        "api": {
            "url": tour.url,
            "allowed_status": tour.allowed_status,
            "denied_status": tour.denied_status,
        },
    }
    return dataclasses.replace(summary, notes=[*summary.notes, *tour.lines], steps=steps)


def _demo_text(summary: DemoSummary) -> str:
    inv = summary.inventory
    countries = ", ".join(f"{c} {n:,}" for c, n in inv.by_country.items())
    statuses = ", ".join(f"{s} {n:,}" for s, n in inv.by_status.items())
    return "\n".join(
        [
            f"Demo installation in {summary.data_dir}",
            _seed_text(summary.seed),
            f"Candidates: {inv.candidates:,}",
            f"  by country: {countries}",
            f"  by status:  {statuses}",
            f"Applications: {inv.applications:,}",
            f"Talent-pool consents: {inv.consents_active:,} active, "
            f"{inv.consents_expired:,} expired, {inv.consents_withdrawn:,} withdrawn",
            f"Documents: {inv.documents:,} ({_size(inv.document_bytes)})",
            *summary.notes,
        ]
    )


@demo.command("seed")
@click.option(
    "--candidates", "count", type=click.IntRange(min=1), required=True, help="How many to add."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same rows.")
@click.option(
    "--documents",
    "document_fraction",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_DOCUMENT_FRACTION,
    show_default=True,
    help="Share of candidates that get a CV file in the document store.",
)
@json_option
@pass_app
def demo_seed(
    app: AppContext, count: int, seed: int, document_fraction: float, as_json: bool
) -> None:
    """Add realistic demo candidates to an existing installation (deterministic per seed)."""
    principal = app.authenticate()
    with progress_bar(count, as_json, "Seeding candidates") as progress:
        report = seed_demo(
            app.installation(),
            principal,
            SeedDemo(count, seed, document_fraction),
            progress=progress,
        )
    emit(as_json, report, lambda: _seed_text(report))
