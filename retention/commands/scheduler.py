"""`gdpr scheduler`: the long-running service and single runs of its jobs."""

from __future__ import annotations

from typing import Any

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit
from retention.logs import configure_logging
from retention.scheduler import JOB_NAMES, default_jobs, next_runs, run_once, serve


@click.group()
def scheduler() -> None:
    """The long-running service: nightly sweep, hourly checkpoint, daily expiry check."""


@scheduler.command("jobs")
@json_option
@pass_app
def scheduler_jobs(app: AppContext, as_json: bool) -> None:
    """List the jobs, their cron expressions and next run times."""
    installation = app.installation()
    jobs = next_runs(installation)
    emit(
        as_json,
        jobs,
        lambda: (
            "\n".join(
                f"{j.name:<11} {j.cron:<14} next {j.next_run.isoformat() if j.next_run else '-'}"
                for j in jobs
            )
            + f"\n(timezone {installation.config.timezone})"
        ),
    )


@scheduler.command("run")
@pass_app
def scheduler_run(app: AppContext) -> None:
    """Run the service until SIGTERM (JSON logs on stderr); the sweep stops after its batch."""
    configure_logging(json=True)
    principal = app.authenticate()
    installation = app.installation()
    serve(installation, default_jobs(installation, principal))


@scheduler.command("run-once")
@click.argument("job", type=click.Choice(list(JOB_NAMES)))
@json_option
@pass_app
def scheduler_run_once(app: AppContext, job: str, as_json: bool) -> None:
    """Run one job now (for cron, systemd timers or Kubernetes CronJobs)."""
    principal = app.authenticate()
    installation = app.installation()
    done = run_once(job, default_jobs(installation, principal))
    emit(as_json, done, f"{done.name} finished in {done.seconds}s: {_flat_text(done.summary)}")


def _flat_text(summary: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in summary.items() if v is not None)
