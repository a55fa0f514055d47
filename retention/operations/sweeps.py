"""The retention sweep as a front end (the CLI, the scheduler) asks for it: plan it, run it.

The plan (sweep:plan) is authorized and audited in one transaction with the counts. A run
(sweep:run) is authorized first, in a transaction of its own that records a denial, because the
sweep itself is many transactions (one per batch, each with its audit entries) under a lease.
`start_sweep` takes that lease at once, so a front end that runs the sweep in the background (the
HTTP API) can answer whether it started; `list_runs` and `show_run` read the record of runs.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from retention.access import Permission, PrincipalView, guarded, require
from retention.clock import Clock, utc_now
from retention.errors import BadInput, CheckFailed, NotFound
from retention.install import Installation, load_installation_policies
from retention.requests import expire_closed
from retention.store import SweepRun, table_of, transaction
from retention.sweep import (
    BATCH_SIZE,
    Plan,
    Progress,
    SweepResult,
    lease_holder,
    make_plan,
    run_sweep,
    take_lease,
)

__all__ = [
    "MAX_RUNS_PAGE",
    "ListRuns",
    "PlanSweep",
    "RunSweep",
    "RunView",
    "ShowRun",
    "StartSweep",
    "StartedSweep",
    "list_runs",
    "plan_sweep",
    "show_run",
    "start_sweep",
    "sweep",
]

MAX_RUNS_PAGE = 500


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
        batch_size=installation.config.sweep_batch_size or BATCH_SIZE,
    )
    return _register_retention(installation, principal, request.country, request.limit, result)


def _register_retention(
    installation: Installation,
    principal: PrincipalView,
    country: str | None,
    limit: int | None,
    result: SweepResult,
) -> SweepResult:
    """After a whole, unlimited run that completed, the request register's own retention
    (`[requests] keep_closed`), in a transaction of its own: every way of starting a sweep (the
    CLI, the scheduler, the HTTP API) ends in it."""
    if country is not None or limit is not None or result.status != "completed":
        return result
    with transaction(installation.engine) as conn:
        expired = expire_closed(conn, installation.config, str(principal.id), result.evaluated_at)
    return dataclasses.replace(result, requests_expired=expired)


# --- runs: reading the record of past and current runs, starting one in the background ------


@dataclass(frozen=True)
class RunView:
    """One run as `retention_run` records it: what it evaluated, how far it got, its counts."""

    id: uuid.UUID
    status: str
    actor: str
    owner: str
    evaluated_at: datetime
    started_at: datetime
    finished_at: datetime | None
    policy_hash: str
    country: str | None
    subject_limit: int | None
    batches: int
    anonymized: int
    deleted: int
    blocked: int
    reviewed: int
    files_removed: int
    resumes: uuid.UUID | None
    error: str | None

    @property
    def acted(self) -> int:
        return self.anonymized + self.deleted + self.blocked + self.reviewed


@dataclass(frozen=True)
class ListRuns:
    """Runs, newest first: at most `limit`, started before the run `after` (the previous page's
    last) when given."""

    limit: int = 50
    after: uuid.UUID | None = None


@dataclass(frozen=True)
class ShowRun:
    run_id: uuid.UUID


@dataclass(frozen=True)
class StartSweep:
    """`RunSweep`, to run in the background of this process."""

    at: datetime | None = None
    country: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class StartedSweep:
    """A run whose lease is taken and whose id is known, ready to work.

    Call `run(stop, progress)` once, in the thread that is to do the work (it releases the
    lease when it ends); until then no other run can start, and the lease expires after two
    minutes if it is never called.
    """

    run_id: uuid.UUID
    run: Callable[[threading.Event | None, Progress | None], SweepResult]


_runs = table_of(SweepRun)


def _run_view(row: Any) -> RunView:
    return RunView(**{name: getattr(row, name) for name in RunView.__dataclass_fields__})


def list_runs(
    installation: Installation,
    principal: PrincipalView,
    request: ListRuns,
    *,
    clock: Clock = utc_now,
) -> list[RunView]:
    """Runs newest first (sweep:plan in every country: a run's counts span countries)."""
    if not 1 <= request.limit <= MAX_RUNS_PAGE:
        raise BadInput(f"limit must be 1 to {MAX_RUNS_PAGE}")
    r = _runs.c

    def work(conn: Connection) -> list[RunView]:
        require(conn, principal.id, Permission.SWEEP_PLAN, at=clock(), action="sweep.runs")
        q = select(_runs).order_by(r.started_at.desc(), r.id.desc()).limit(request.limit)
        if request.after is not None:
            anchor = conn.execute(select(r.started_at).where(r.id == request.after)).first()
            if anchor is None:
                raise NotFound(f"no sweep run {request.after}")
            q = q.where(
                or_(
                    r.started_at < anchor.started_at,
                    and_(r.started_at == anchor.started_at, r.id < request.after),
                )
            )
        return [_run_view(row) for row in conn.execute(q)]

    return guarded(installation.engine, work)


def show_run(
    installation: Installation,
    principal: PrincipalView,
    request: ShowRun,
    *,
    clock: Clock = utc_now,
) -> RunView:
    """One run with its counts (sweep:plan in every country)."""

    def work(conn: Connection) -> RunView:
        require(conn, principal.id, Permission.SWEEP_PLAN, at=clock(), action="sweep.show")
        row = conn.execute(select(_runs).where(_runs.c.id == request.run_id)).first()
        if row is None:
            raise NotFound(f"no sweep run {request.run_id}")
        return _run_view(row)

    return guarded(installation.engine, work)


def start_sweep(
    installation: Installation,
    principal: PrincipalView,
    request: StartSweep,
    *,
    clock: Clock = utc_now,
) -> StartedSweep:
    """Authorize sweep:run, take the lease now (CheckFailed while another run holds it), and
    return the run to work in the background; see `StartedSweep`."""
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
    if request.limit is not None and request.limit < 1:
        raise BadInput("limit must be at least 1")
    run_id = uuid.uuid4()
    lease = take_lease(installation, run_id=run_id, clock=clock)
    if lease is None:
        current = lease_holder(installation, clock=clock)
        raise CheckFailed(f"another sweep holds the lease ({current}): wait until it has finished")

    def run(stop: threading.Event | None, progress: Progress | None) -> SweepResult:
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
            batch_size=installation.config.sweep_batch_size or BATCH_SIZE,
            lease=lease,
            run_id=run_id,
        )
        return _register_retention(installation, principal, request.country, request.limit, result)

    return StartedSweep(run_id, run)
