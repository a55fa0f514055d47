"""The long-running service: the nightly sweep, hourly signed checkpoints, the daily expiry check
and the daily consent renewal campaign.

APScheduler 3 runs the jobs on cron triggers from `Config.schedule`, in `Config.timezone` (never
the host's). Missed runs are coalesced into one, a job never overlaps itself in this process
(`max_instances=1`), and a run late by up to `MISFIRE_GRACE` (after a restart or a long sweep)
still happens instead of being dropped after APScheduler's default one second. Jobs live in the
memory job store only: several schedulers sharing a store run jobs twice (APScheduler 3 does not
support it), so coordination between processes and machines is the sweep's database lease. SIGTERM
sets a stop flag that the sweep checks between batches, then shuts the scheduler down from the
main thread, waiting for the running job. `run_once` is the same job without the service, for
cron, systemd timers and Kubernetes CronJobs.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from retention.access import PrincipalView
from retention.clock import Clock, utc_now
from retention.errors import BadInput
from retention.install import Installation
from retention.logs import get_logger
from retention.operations import (
    CheckExpiries,
    DeliverMessages,
    DueRequests,
    RunCampaign,
    RunSweep,
    SignCheckpoint,
    deliver_messages,
    expiry_check,
    requests_due,
    run_campaign,
    sign_checkpoint,
)
from retention.operations import sweep as run_sweep
from retention.results import JSONData, rfc3339

__all__ = [
    "JOB_NAMES",
    "MISFIRE_GRACE",
    "Job",
    "JobRun",
    "ScheduledJob",
    "build_scheduler",
    "default_jobs",
    "next_runs",
    "run_once",
    "serve",
]

JOB_NAMES = ("sweep", "checkpoint", "expiries", "deliver", "consent")
MISFIRE_GRACE = timedelta(hours=1)

# A job receives the stop flag (set on SIGTERM) and returns a JSON-ready summary.
Job = Callable[[threading.Event], dict[str, Any]]

log = get_logger("retention.scheduler")


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    cron: str
    next_run: datetime | None

    def to_json(self) -> JSONData:
        next_run = None if self.next_run is None else rfc3339(self.next_run)
        return {"job": self.name, "cron": self.cron, "next_run": next_run}


@dataclass(frozen=True)
class JobRun:
    """One run of a job; `run_id` names the run in the logs (`job_run`)."""

    name: str
    run_id: str
    started_at: datetime
    seconds: float
    summary: dict[str, Any]

    def to_json(self) -> JSONData:
        # The summary's own ids (a sweep's `run_id`) keep their names; this run is `job_run`,
        # as in the logs.
        return {"job": self.name, "job_run": self.run_id, "seconds": self.seconds, **self.summary}


def default_jobs(
    installation: Installation, principal: PrincipalView, clock: Clock = utc_now
) -> dict[str, Job]:
    """The jobs of the service, acting as `principal` (a service with the scheduler role),
    through the same operations as the CLI."""

    def sweep(stop: threading.Event) -> dict[str, Any]:
        result = run_sweep(installation, principal, RunSweep(), stop=stop, clock=clock)
        return result.to_json()

    def checkpoint(stop: threading.Event) -> dict[str, Any]:
        done = sign_checkpoint(installation, principal, SignCheckpoint(), clock=clock)
        return {"origin": done.origin, "size": done.size}

    def expiries(stop: threading.Event) -> dict[str, Any]:
        counts = expiry_check(installation, principal, CheckExpiries(), clock=clock)
        # The daily look at data-subject requests: one log line per request late or due soon.
        due = requests_due(installation, principal, DueRequests(), clock=clock)
        for item in due.overdue:
            log.warning("request_overdue", **item.to_json())
        for item in due.due_soon:
            log.info("request_due_soon", **item.to_json())
        return {**dataclasses.asdict(counts), **due.counts()}

    def deliver(stop: threading.Event) -> dict[str, Any]:
        # The outbox's messages to the integration targets (none configured: nothing to do).
        done = deliver_messages(installation, principal, DeliverMessages(), stop=stop, clock=clock)
        return done.to_json()

    def consent(stop: threading.Event) -> dict[str, Any]:
        # The daily renewal campaign: expiries recorded, asks and reminders queued and sent.
        # Running it twice sends nothing twice (the outbox is unique per consent and step).
        result = run_campaign(installation, principal, RunCampaign(), clock=clock, stop=stop)
        return {**result.counts.to_json(), "smtp_connections": result.connections}

    return {
        "sweep": sweep,
        "checkpoint": checkpoint,
        "expiries": expiries,
        "deliver": deliver,
        "consent": consent,
    }


def _trigger(cron: str, zone: Any) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(cron, timezone=zone)
    except ValueError as exc:
        raise BadInput(f"schedule: '{cron}' is not a crontab expression ({exc})") from None


def _crons(installation: Installation) -> dict[str, str]:
    s = installation.config.schedule
    return {
        "sweep": s.sweep,
        "checkpoint": s.checkpoint,
        "expiries": s.expiries,
        "deliver": s.deliver,
        "consent": s.consent,
    }


def _logged(name: str, job: Job, stop: threading.Event) -> Callable[[], JobRun]:
    def run() -> JobRun:
        run_id = str(uuid.uuid4())
        started, t0 = utc_now(), time.monotonic()
        log.info("job.started", job=name, job_run=run_id)
        try:
            summary = job(stop)
        except Exception as exc:
            # Type only: driver messages can quote parameters (personal data).
            log.error("job.failed", job=name, job_run=run_id, error=type(exc).__name__)
            raise
        seconds = round(time.monotonic() - t0, 3)
        log.info("job.finished", job=name, job_run=run_id, seconds=seconds, **_flat(summary))
        return JobRun(name, run_id, started, seconds, summary)

    return run


def _flat(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if isinstance(v, str | int | float | bool)}


def build_scheduler(
    installation: Installation,
    jobs: Mapping[str, Job],
    stop: threading.Event,
    *,
    blocking: bool = True,
) -> BaseScheduler:
    """A scheduler with every job on its cron trigger, in the configured timezone."""
    zone = installation.config.zone
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(
        timezone=zone,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
        },
    )
    crons = _crons(installation)
    for name, job in jobs.items():
        scheduler.add_job(
            _logged(name, job, stop),
            trigger=_trigger(crons[name], zone),
            id=name,
            name=name,
            replace_existing=True,
        )
    return scheduler


def next_runs(installation: Installation, now: datetime | None = None) -> list[ScheduledJob]:
    """Each job, its cron expression and next run time (in the configured timezone)."""
    zone = installation.config.zone
    now = (now or utc_now()).astimezone(zone)
    return [
        ScheduledJob(name, cron, _trigger(cron, zone).get_next_fire_time(None, now))
        for name, cron in _crons(installation).items()
    ]


def run_once(name: str, jobs: Mapping[str, Job], stop: threading.Event | None = None) -> JobRun:
    """Run one job now, in this process (for cron, systemd timers, Kubernetes CronJobs)."""
    if name not in jobs:
        raise BadInput(f"no job '{name}': choose one of {', '.join(jobs)}")
    return _logged(name, jobs[name], stop or threading.Event())()


def serve(installation: Installation, jobs: Mapping[str, Job], *, poll: float = 0.5) -> None:
    """Run the scheduler until SIGTERM or SIGINT; the running job ends after its current batch.

    The signal handler only records the signal: it may interrupt the main thread while that holds
    a lock (a log write, an Event's condition), so taking any lock in it could deadlock. The main
    thread polls the record, then sets the jobs' stop flag and shuts the scheduler down itself,
    waiting for the running job to return.
    """
    received: list[int] = []
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler = build_scheduler(installation, jobs, stop, blocking=False)
    for job in next_runs(installation):
        log.info("scheduler.job", job=job.name, cron=job.cron, next_run=str(job.next_run))
    scheduler.start()
    log.info("scheduler.started", timezone=installation.config.timezone)
    while not received:
        time.sleep(poll)
    log.info("scheduler.stopping", signal=signal.Signals(received[0]).name)
    stop.set()
    scheduler.shutdown(wait=True)
    log.info("scheduler.stopped")
