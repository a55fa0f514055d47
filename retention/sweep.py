"""The sweep: act on every subject whose retention has expired, in batches, exactly once.

A run takes the database lease (one sweep at a time, whatever the number of schedulers), selects
the due subjects once, set-based, into its work list (`sweep_item`), then works through it in
batches of one transaction each: lock the batch's subjects, decide them again with the compiled
SQL (a hold placed or a record changed since the selection is seen), anonymize, delete, block or
queue them for review, append one audit entry per subject acted on, drop the batch's work items,
record progress in `retention_run`, renew the lease, commit; then unlink the document files the
batch released. Because an action changes the very state that made the subject due, and the
action, its audit entry and the progress commit together, a run killed at any instant and started
again acts on each remaining subject once and on no subject twice: the second run marks the dead
one interrupted and selects afresh. A stop request (SIGTERM) is honoured between batches.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    TextClause,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.types import Uuid

from audit_log import AuditLog, Event
from policies import PolicySet
from retention.anonymization import Anonymizer, anonymize
from retention.clock import Clock, utc_now
from retention.db import is_postgresql, transaction
from retention.deletion import block, delete_subjects
from retention.id_sets import among
from retention.installation import Installation
from retention.lease import DEFAULT_TTL, Lease, LeaseOwner, acquire, holder, release, renew
from retention.logs import get_logger
from retention.models import Candidate
from retention.pending_files import remove_pending
from retention.review import ReviewRequest, enqueue
from retention.selection import actionable_only, batch_ids, batch_statement, cites, decisions
from retention.sweep_schema import RunStatus, SweepItem, SweepRun

__all__ = ["BATCH_SIZE", "LEASE_NAME", "Progress", "SweepResult", "run_sweep"]

LEASE_NAME = "sweep"
BATCH_SIZE = 1000

Progress = Callable[[int, int], None]  # (subjects handled, subjects selected)

_runs = SweepRun.__table__
_items = SweepItem.__table__
_candidates = Candidate.__table__
_COUNTERS = {
    "anonymize": "anonymized",
    "delete": "deleted",
    "block": "blocked",
    "review": "reviewed",
}

log = get_logger("retention.sweep")


@dataclass(frozen=True)
class SweepResult:
    """What a run did; `status` is `skipped` when another process held the lease."""

    status: str
    evaluated_at: datetime
    policy_hash: str
    run_id: uuid.UUID | None = None
    selected: int = 0
    anonymized: int = 0
    deleted: int = 0
    blocked: int = 0
    reviewed: int = 0
    unchanged: int = 0  # selected, but no longer due when its batch came (held, changed, gone)
    files_removed: int = 0
    batches: int = 0
    resumes: uuid.UUID | None = None
    lease_holder: str | None = None

    @property
    def acted(self) -> int:
        return self.anonymized + self.deleted + self.blocked + self.reviewed

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "run_id": str(self.run_id) if self.run_id else None,
            "evaluated_at": self.evaluated_at.isoformat(),
            "policy_hash": self.policy_hash,
            "selected": self.selected,
            "acted": self.acted,
            "anonymized": self.anonymized,
            "deleted": self.deleted,
            "blocked": self.blocked,
            "reviewed": self.reviewed,
            "unchanged": self.unchanged,
            "files_removed": self.files_removed,
            "batches": self.batches,
            "resumes": str(self.resumes) if self.resumes else None,
            "lease_holder": self.lease_holder,
        }


def run_sweep(
    installation: Installation,
    policy_set: PolicySet,
    *,
    actor: str,
    at: datetime | None = None,
    country: str | None = None,
    limit: int | None = None,
    batch_size: int = BATCH_SIZE,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    clock: Clock = utc_now,
    lease_ttl: timedelta = DEFAULT_TTL,
    anonymizer: Anonymizer | None = None,
) -> SweepResult:
    """Run one sweep at instant `at` (default: now); see the module docstring."""
    at = at or clock()
    engine = installation.engine
    owner = LeaseOwner.this_process()
    lease = acquire(engine, LEASE_NAME, owner, ttl=lease_ttl, clock=clock)
    if lease is None:
        current = holder(engine, LEASE_NAME, clock=clock)
        log.info("sweep.skipped", reason="lease held", holder=current)
        return SweepResult("skipped", at, policy_set.content_hash, lease_holder=current)
    sweep = _Sweep(
        installation,
        policy_set,
        lease,
        actor=actor,
        at=at,
        country=country,
        limit=limit,
        batch_size=batch_size,
        clock=clock,
        lease_ttl=lease_ttl,
        anonymizer=anonymizer or Anonymizer(),
    )
    try:
        return sweep.run(stop, progress)
    except BaseException as exc:
        sweep.fail(exc)
        raise
    finally:
        release(engine, lease)


class _Sweep:
    """The state of one run; each method is one step of the module docstring."""

    def __init__(
        self,
        installation: Installation,
        policy_set: PolicySet,
        lease: Lease,
        *,
        actor: str,
        at: datetime,
        country: str | None,
        limit: int | None,
        batch_size: int,
        clock: Clock,
        lease_ttl: timedelta,
        anonymizer: Anonymizer,
    ) -> None:
        self.engine = installation.engine
        self.documents_dir = installation.config.documents_dir
        self.policy_set = policy_set
        self.lease = lease
        self.actor = actor
        self.at = at
        self.country = country
        self.limit = limit
        self.batch_size = batch_size
        self.clock = clock
        self.lease_ttl = lease_ttl
        self.anonymizer = anonymizer
        self.audit = AuditLog(clock)
        self.run_id = uuid.uuid4()
        self.counts: dict[str, int] = defaultdict(int)
        self.selected = 0
        self.resumes: uuid.UUID | None = None
        self.started = False
        self.statement: TextClause | None = None
        self.cites = cites(policy_set)

    def run(self, stop: threading.Event | None, progress: Progress | None) -> SweepResult:
        self.counts["files_removed"] += remove_pending(self.engine, self.documents_dir)
        self.start()
        log.info(
            "sweep.started", run=str(self.run_id), selected=self.selected, resumes=self.resumes
        )
        handled = 0
        if progress:
            progress(0, self.selected)
        while True:
            if stop is not None and stop.is_set():
                return self.finish(RunStatus.STOPPED)
            with transaction(self.engine) as conn:
                n = self.batch(conn)
            if n == 0:
                return self.finish(RunStatus.COMPLETED)
            self.counts["files_removed"] += remove_pending(self.engine, self.documents_dir)
            handled += n
            if progress:
                progress(handled, self.selected)

    def start(self) -> None:
        """Retire runs that died, register this one, and select its work list, in one commit."""
        r = _runs.c
        now = self.clock()
        with transaction(self.engine) as conn:
            renew(conn, self.lease, run_id=self.run_id, ttl=self.lease_ttl, clock=self.clock)
            dead = list(conn.execute(select(r.id).where(r.status == RunStatus.RUNNING)).scalars())
            if dead:
                # We hold the lease, so a run still marked running lost its process.
                self.resumes = dead[-1]
                conn.execute(
                    update(_runs)
                    .where(r.id.in_(dead))
                    .values(status=RunStatus.INTERRUPTED, finished_at=now, error="process died")
                )
                conn.execute(delete(_items).where(_items.c.run_id.in_(dead)))
            conn.execute(
                insert(_runs).values(
                    id=self.run_id,
                    owner=self.lease.owner,
                    actor=self.actor,
                    status=RunStatus.RUNNING,
                    evaluated_at=self.at,
                    started_at=now,
                    policy_hash=self.policy_set.content_hash,
                    country=self.country,
                    subject_limit=self.limit,
                    resumes=self.resumes,
                    batches=0,
                    anonymized=0,
                    deleted=0,
                    blocked=0,
                    reviewed=0,
                    files_removed=0,
                )
            )
            d = decisions(self.policy_set, self.at, country=self.country, detail=False)
            due = actionable_only(d).subquery("due")
            chosen = select(literal(self.run_id, Uuid()), due.c.id).order_by(due.c.id)
            if self.limit is not None:
                chosen = chosen.limit(self.limit)
            conn.execute(insert(_items).from_select(["run_id", "subject_id"], chosen), d.params)
            self.selected = conn.execute(
                select(func.count()).where(_items.c.run_id == self.run_id)
            ).scalar_one()
            self.audit.append(conn, [self.event("sweep.start", None, self.run_details())])
            self.started = True
        if is_postgresql(self.engine):
            # The work list was just filled in one transaction: give the planner its real size
            # for the batches' SELECT and DELETE on it.
            with transaction(self.engine) as conn:
                conn.exec_driver_sql("ANALYZE sweep_item")

    def batch(self, conn: Connection) -> int:
        """Handle the next batch of work items; returns how many (0 when none are left)."""
        it = _items.c
        q = (
            select(it.subject_id)
            .where(it.run_id == self.run_id)
            .order_by(it.subject_id)
            .limit(self.batch_size)
        )
        ids = list(conn.execute(q).scalars())
        if not ids:
            return 0
        t0 = time.perf_counter()
        # Lock first, decide after: the decision's statement then sees every hold committed
        # before the lock was granted (placing a hold locks the subject's row too).
        c = _candidates.c
        conn.execute(select(c.id).where(among(conn, c.id, ids)).with_for_update()).all()
        if self.statement is None:
            self.statement = batch_statement(self.policy_set, self.at, conn.dialect)
        params = {"ids": batch_ids(conn.dialect, ids)}
        due = [row for row in conn.execute(self.statement, params) if row.actionable]
        t1 = time.perf_counter()
        by_action: dict[str, list[Any]] = defaultdict(list)
        for row in due:
            by_action[row.action].append(row)
        now = self.clock()
        done = self.act(conn, by_action, now)
        t2 = time.perf_counter()
        rule_of = {row.id: (row.policy, row.rule, row.country) for row in due}
        # The country goes into each entry so evidence can be filtered and charted from the log
        # alone, after the subject's row is gone.
        details = {key: self.rule_details(*key) for key in set(rule_of.values())}
        events = [
            self.event(f"candidate.{action}", subject, details[rule_of[subject]])
            for action, acted in done.items()
            for subject in acted
        ]
        self.audit.append(conn, events)
        t3 = time.perf_counter()
        acted_n = sum(len(v) for v in done.values())
        self.counts["unchanged"] += len(ids) - acted_n
        conn.execute(
            delete(_items).where(it.run_id == self.run_id, among(conn, it.subject_id, ids))
        )
        increments = {col: _runs.c[col] + len(done.get(a, ())) for a, col in _COUNTERS.items()}
        conn.execute(
            update(_runs)
            .where(_runs.c.id == self.run_id)
            .values(
                cursor=str(ids[-1]),
                batches=_runs.c.batches + 1,
                files_removed=self.counts["files_removed"],
                **increments,
            )
        )
        renew(conn, self.lease, ttl=self.lease_ttl, clock=self.clock)
        for action, acted in done.items():
            self.counts[_COUNTERS[action]] += len(acted)
        self.counts["batches"] += 1
        log.info(
            "sweep.batch",
            run=str(self.run_id),
            batch=self.counts["batches"],
            decide_s=round(t1 - t0, 3),
            act_s=round(t2 - t1, 3),
            audit_s=round(t3 - t2, 3),
            total_s=round(time.perf_counter() - t0, 3),
            **{_COUNTERS[a]: len(v) for a, v in done.items()},
        )
        return len(ids)

    def act(
        self,
        conn: Connection,
        by_action: Mapping[str, list[Any]],
        now: datetime,
    ) -> dict[str, list[uuid.UUID]]:
        """Perform each action on its subjects; returns the ids each action really changed."""
        done: dict[str, list[uuid.UUID]] = {}
        if rows := by_action.get("anonymize"):
            done["anonymize"] = anonymize(
                conn,
                [(r.id, r.country) for r in rows],
                at=now,
                anonymizer=self.anonymizer,
                run_id=self.run_id,
            )
        if rows := by_action.get("delete"):
            done["delete"] = delete_subjects(conn, [r.id for r in rows], at=now, run_id=self.run_id)
        if rows := by_action.get("block"):
            done["block"] = block(conn, [r.id for r in rows], at=now)
        if rows := by_action.get("review"):
            requests = [
                ReviewRequest(r.id, r.country, r.policy, r.rule, self.cites.get((r.policy, r.rule)))
                for r in rows
            ]
            done["review"] = enqueue(
                conn,
                requests,
                at=now,
                policy_hash=self.policy_set.content_hash,
                run_id=self.run_id,
            )
        return done

    def finish(self, status: RunStatus) -> SweepResult:
        with transaction(self.engine) as conn:
            conn.execute(
                update(_runs)
                .where(_runs.c.id == self.run_id)
                .values(
                    status=status,
                    finished_at=self.clock(),
                    files_removed=self.counts["files_removed"],
                )
            )
            if status is RunStatus.COMPLETED:
                conn.execute(delete(_items).where(_items.c.run_id == self.run_id))
            details = {**self.run_details(), **{k: v for k, v in sorted(self.counts.items())}}
            details["status"] = status.value
            self.audit.append(conn, [self.event("sweep.finish", None, details)])
        result = self.result(status)
        log.info("sweep.finished", **{k: v for k, v in result.to_json().items() if v is not None})
        return result

    def fail(self, exc: BaseException) -> None:
        """Record a failed run (the error's type only: driver messages may quote data)."""
        if not self.started:
            return
        try:
            with transaction(self.engine) as conn:
                conn.execute(
                    update(_runs)
                    .where(_runs.c.id == self.run_id, _runs.c.status == RunStatus.RUNNING)
                    .values(
                        status=RunStatus.FAILED,
                        finished_at=self.clock(),
                        error=type(exc).__name__,
                    )
                )
        except Exception:  # the database may be what failed; the run stays 'running' then
            log.warning("sweep.fail_not_recorded", run=str(self.run_id))
        log.error("sweep.failed", run=str(self.run_id), error=type(exc).__name__)

    def result(self, status: RunStatus) -> SweepResult:
        c = self.counts
        return SweepResult(
            status=status.value,
            evaluated_at=self.at,
            policy_hash=self.policy_set.content_hash,
            run_id=self.run_id,
            selected=self.selected,
            anonymized=c["anonymized"],
            deleted=c["deleted"],
            blocked=c["blocked"],
            reviewed=c["reviewed"],
            unchanged=c["unchanged"],
            files_removed=c["files_removed"],
            batches=c["batches"],
            resumes=self.resumes,
        )

    def run_details(self) -> dict[str, Any]:
        return {
            "run": str(self.run_id),
            "policy_hash": self.policy_set.content_hash,
            "evaluated_at": self.at,
            "country": self.country,
            "limit": self.limit,
            "selected": self.selected,
            "resumes": str(self.resumes) if self.resumes else None,
        }

    def rule_details(self, policy: str, rule: str, country: str) -> dict[str, Any]:
        return {
            "country": country,
            "policy": policy,
            "rule": rule,
            "cite": self.cites.get((policy, rule)),
            "policy_hash": self.policy_set.content_hash,
            "run": str(self.run_id),
        }

    def event(self, action: str, subject: uuid.UUID | None, details: Mapping[str, Any]) -> Event:
        reason = "retention period expired" if subject is not None else ""
        return Event(
            actor=self.actor, action=action, subject=subject, reason=reason, details=details
        )
