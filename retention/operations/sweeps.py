"""The retention sweep as a front end (the CLI, the scheduler) asks for it: plan it, run it.

The plan (sweep:plan) is authorized and audited in one transaction with the counts. A run
(sweep:run) is authorized first, in a transaction of its own that records a denial, because the
sweep itself is many transactions (one per batch, each with its audit entries) under a lease.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from retention.access import Permission, PrincipalView, guarded, require
from retention.clock import Clock, utc_now
from retention.install import Installation, load_installation_policies
from retention.requests import expire_closed
from retention.store import transaction
from retention.sweep import Plan, Progress, SweepResult, make_plan, run_sweep

__all__ = ["PlanSweep", "RunSweep", "plan_sweep", "sweep"]


@dataclass(frozen=True)
class PlanSweep:
    """Count what a sweep would do at `at` (default: now), in `country` or everywhere."""

    at: datetime | None = None
    country: str | None = None


@dataclass(frozen=True)
class RunSweep:
    """Act on what is due at `at` (default: now), in `country` or everywhere, on at most `limit`."""

    at: datetime | None = None
    country: str | None = None
    limit: int | None = None


def plan_sweep(
    installation: Installation,
    principal: PrincipalView,
    request: PlanSweep,
    *,
    clock: Clock = utc_now,
) -> Plan:
    """The dry run: what is due, held and in error, audited as `sweep.plan`."""
    policy_set = load_installation_policies(installation.config)

    def work(conn: Connection) -> Plan:
        now = clock()
        require(
            conn,
            principal.id,
            Permission.SWEEP_PLAN,
            at=now,
            action="sweep.plan",
            country=request.country,
        )
        return make_plan(
            conn,
            policy_set,
            at=request.at or now,
            actor=str(principal.id),
            country=request.country,
            clock=clock,
        )

    return guarded(installation.engine, work)


def sweep(
    installation: Installation,
    principal: PrincipalView,
    request: RunSweep,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    clock: Clock = utc_now,
) -> SweepResult:
    """Authorize sweep:run (for the country, or every country), then run the sweep.

    `stop` ends the run after its current batch (the scheduler sets it on SIGTERM); `progress`
    is told (subjects handled, subjects selected) after each batch.
    """
    policy_set = load_installation_policies(installation.config)

    def work(conn: Connection) -> None:
        require(
            conn,
            principal.id,
            Permission.SWEEP_RUN,
            at=clock(),
            action="sweep.run",
            country=request.country,
        )

    guarded(installation.engine, work)
    result = run_sweep(
        installation,
        policy_set,
        actor=str(principal.id),
        at=request.at,
        country=request.country,
        limit=request.limit,
        stop=stop,
        progress=progress,
        clock=clock,
        workers=installation.config.sweep_workers,
    )
    if request.country is not None or request.limit is not None or result.status != "completed":
        return result
    # The request register's own retention, once the subjects are done (a whole, unlimited run).
    with transaction(installation.engine) as conn:
        expired = expire_closed(conn, installation.config, str(principal.id), result.evaluated_at)
    return dataclasses.replace(result, requests_expired=expired)
