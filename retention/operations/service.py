"""The service's own state, for probes and metrics: readiness and a few gauges.

No principal: these answer load balancers and Prometheus, and say nothing about any person
(counts and instants only). Readiness is the database reachable, its schema at this version's
head, and the checkpoint signing key readable; a failed check names itself in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from audit_log import AuditLog
from retention.audit.log import load_signer
from retention.clock import Clock, utc_now
from retention.errors import EngineError
from retention.install import Installation
from retention.requests import DueCounts, due_counts
from retention.store import ReviewItem, RunStatus, SweepRun, migrate

__all__ = ["Readiness", "ServiceGauges", "check_readiness", "service_gauges"]


@dataclass(frozen=True)
class Readiness:
    problems: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ServiceGauges:
    audit_log_size: int
    last_checkpoint_at: datetime | None
    last_sweep_at: datetime | None  # the last run that completed
    review_backlog: int  # subjects waiting for a DPO's decision
    requests_due: DueCounts  # open data-subject requests overdue or due within 7 days, by type


def check_readiness(installation: Installation) -> Readiness:
    """Whether this process can serve: database, schema, signing key."""
    problems: list[str] = []
    try:
        current = migrate.current_revision(installation.engine)
    except SQLAlchemyError as exc:
        problems.append(f"database unreachable ({type(exc).__name__})")
    else:
        head = migrate.head_revision()
        if current != head:
            problems.append(
                f"schema at {current or 'nothing'}, needs {head}: run 'gdpr db upgrade'"
            )
    try:
        load_signer(installation.config)
    except EngineError as exc:
        problems.append(exc.message)
    return Readiness(tuple(problems))


def service_gauges(installation: Installation, clock: Clock = utc_now) -> ServiceGauges:
    """Audit log size, last checkpoint and completed sweep, the review backlog, the requests
    due (as of `clock()`): one read, each figure from an index or a one-row table."""
    with installation.engine.connect() as conn:
        log = AuditLog()
        size = log.head(conn).size
        checkpoint = log.latest_checkpoint_time(conn)
        sweep = conn.execute(
            select(func.max(col(SweepRun.finished_at))).where(
                col(SweepRun.status) == RunStatus.COMPLETED.value
            )
        ).scalar()
        backlog = conn.execute(
            select(func.count()).select_from(ReviewItem).where(col(ReviewItem.decided_at).is_(None))
        ).scalar_one()
        due = due_counts(conn, clock())
    return ServiceGauges(size, checkpoint, sweep, int(backlog), due)
