"""The sweep: act on every subject whose retention has expired, in batches, exactly once.

A run takes the database lease (one sweep at a time, whatever the number of schedulers), selects
the due subjects once, set-based, into its work list (`sweep_item`, numbered in the storage order
of their rows so that a batch touches contiguous pages), then works through it in batches of one
transaction each: claim the batch's work items (deleting them), lock its subjects (PostgreSQL
`FOR UPDATE`; on SQLite the transaction's BEGIN IMMEDIATE already excludes every other writer),
decide them again with the compiled SQL (a hold placed or a record changed since the selection is
seen), anonymize, delete, block or queue them for review, append one audit entry per subject
acted on, record progress in `retention_run`, renew the lease, commit; then unlink the document
files the batch released. The actions trust the decision made under the lock instead of checking each row
again, and fail the batch if a statement changes fewer rows than it promised. Because an action
changes the very state that made the subject due, and the action, its audit entry and the
progress commit together, a run killed at any instant and started again acts on each remaining
subject once and on no subject twice: the second run marks the dead one interrupted and selects
afresh. A stop request (SIGTERM) is honoured between batches.

On PostgreSQL several workers (threads, each with its own connection) share a run's work list:
a worker claims its batch's items with `FOR UPDATE SKIP LOCKED`, so no two take the same item,
and while one waits for the server another runs. They meet only at the audit head, the run's row
and the lease, locked in that order at the end of a batch: their commits queue, the chain of
entries stays one line, and they cannot deadlock. SQLite has a single writer: one worker.

Batches are of `BATCH_SIZE` subjects: large enough that the per-batch costs (the decision
statement's start, the lock, the commit and its WAL pages of shared index pages) are spread thin,
small enough that a batch takes well under a second, so that holds wait little for its lock, a
stop request is honoured soon, and the lease (renewed per batch, two minutes by default) never
nears expiry.
"""

from __future__ import annotations

import contextvars
import gc
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Text,
    TextualSelect,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import Uuid

from audit_log import AuditLog, Event
from policies import PolicySet
from retention.clock import Clock, utc_now
from retention.config import MAX_SWEEP_WORKERS
from retention.errors import BadInput
from retention.install import Installation
from retention.integration import write_outbox
from retention.logs import get_logger
from retention.results import rfc3339
from retention.store import (
    Candidate,
    RunStatus,
    StoragePosition,
    SweepItem,
    SweepRun,
    among,
    foreign_keys_off,
    is_postgresql,
    record,
    recover_staged,
    remove_pending,
    scrub_erased,
    table_of,
    tagged,
    transaction,
)
from retention.sweep.anonymization import Anonymizer, anonymize
from retention.sweep.deletion import block, delete_subjects
from retention.sweep.lease import DEFAULT_TTL, Lease, LeaseOwner, acquire, holder, release, renew
from retention.sweep.review_queue import ReviewRequest, enqueue
from retention.sweep.selection import (
    actionable_only,
    batch_ids,
    batch_statement,
    cites,
    decisions,
)

__all__ = [
    "BATCH_SIZE",
    "LEASE_NAME",
    "POSTGRESQL_WORKERS",
    "Progress",
    "SweepResult",
    "lease_holder",
    "run_sweep",
    "take_lease",
]

LEASE_NAME = "sweep"
BATCH_SIZE = 10_000  # see the module docstring
# Workers of one run on PostgreSQL: while one waits for the server, another's Python runs, and
# the server works on two batches at once. SQLite has one writer, so one worker.
POSTGRESQL_WORKERS = 2

Progress = Callable[[int, int], None]  # (subjects handled, subjects selected)

_runs = table_of(SweepRun)
_items = table_of(SweepItem)
_candidates = table_of(Candidate)
_COUNTERS = {
    "anonymize": "anonymized",
    "delete": "deleted",
    "block": "blocked",
    "review": "reviewed",
}

log = get_logger("retention.sweep")

# Claiming the next batch of work items (in storage order of their subjects, see `sweep_item`)
# deletes them in the batch's transaction: they are gone when it commits and back if it rolls
# back. On PostgreSQL the claim skips the items another worker's batch holds, so the workers of
# a run share the list without ever taking one item twice; on SQLite a batch's transaction is
# the only writer anyway. The delete names the claimed span (an index range) and, on
# PostgreSQL, the claimed positions in it: a claim can skip over another worker's items.
# A claim starts after the highest position claimed so far: every item up to it was claimed by a
# batch that commits (deleting it) or fails the run. On PostgreSQL the items already claimed stay
# in the index as dead entries until vacuum, and a claim reading from the list's start walked
# past all of them: a batch's claim cost grew with the number of batches before it.
_RUN = bindparam("run", type_=Uuid())
_BEFORE_ANY_POSITION = -(2**63)  # the least BIGINT
_NEXT_ITEMS = (
    "SELECT position, subject_id FROM sweep_item WHERE run_id = :run AND position > :after "
    "ORDER BY position"
)
_DROP_SPAN = "DELETE FROM sweep_item WHERE run_id = :run AND position BETWEEN :first AND :last"
_TAKE_PG = text(f"{_NEXT_ITEMS} LIMIT :n FOR UPDATE SKIP LOCKED").bindparams(_RUN)
# On SQLite the take runs on the driver's own cursor (see `_Sweep.claim`), parameters in storage
# form.
_TAKE_SQLITE = (
    "SELECT position, subject_id FROM sweep_item WHERE run_id = ? AND position > ? "
    "ORDER BY position LIMIT ?"
)
_DROP = {
    "sqlite": text(_DROP_SPAN).bindparams(_RUN),
    "postgresql": text(f"{_DROP_SPAN} AND position = ANY(CAST(:positions AS bigint[]))").bindparams(
        _RUN
    ),
}


# The tables a batch deletes from through `delete_cascading`, and with plain DELETEs: on SQLite
# it runs with foreign keys off and does their cascades set-based (see `retention.store.cascade`).
# Nothing else a batch writes is checked by a foreign key: it inserts only into tables without
# any (review items, pending deletions, the audit log, the outbox, the work list) and updates no
# key column.
_DELETED_FROM = ("candidate", "consent", "document")
_DELETED_PLAINLY = ("sweep_item",)

# Every statement of a batch finds its rows through the batch's ids (or positions), and a batch
# is a sliver of any table it touches: its cost must follow the batch, not the table. PostgreSQL's
# planner does not know that the batch's rows are neighbours in storage (the work list is in
# storage order; ids are random), prices 10,000 index probes as 10,000 random page reads, and
# chose a full scan instead: the lock alone took 0.2 s per batch at 1,000,000 candidates, and ten
# times that at ten times the rows. Scans stay possible where no index serves. No parallel
# workers either: a batch's statements are index probes, a worker's start costs more than it
# shares, and the run's own workers already keep the cores busy.
_BATCH_PLANS = (
    "SELECT set_config('enable_seqscan', 'off', true),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)
# The decision alone plans without hash and merge joins: with them it hashed the whole consent
# table (every row, through an index) to join a batch's subjects to it, where a probe per
# subject costs the batch alone. Other statements keep them: the anonymizing UPDATE joins its
# batch's values to the rows by a hash of the batch (without one, a nested loop compared every
# pair).
_PROBES_ONLY = (
    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"
)
_JOINS_AGAIN = "SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT"


@dataclass(frozen=True)
class _BatchDone:
    """A batch's outcome: items handled, subjects per counter, seconds per step."""

    handled: int
    counts: dict[str, int]
    timings: dict[str, float]


def _driver_sql(statement: TextualSelect, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """`statement` as the driver's SQL, with its positional parameter names (none if named).

    Executed through the driver, the decision's rows come back as the database sends them;
    SQLAlchemy's per-row processing of them (UUIDs above all) cost more than the query.
    """
    compiled = statement.compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup or ())


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
    requests_expired: int = 0  # closed data-subject requests past [requests] keep_closed

    @property
    def acted(self) -> int:
        return self.anonymized + self.deleted + self.blocked + self.reviewed

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "run_id": str(self.run_id) if self.run_id else None,
            "evaluated_at": rfc3339(self.evaluated_at),
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
            "requests_expired": self.requests_expired,
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
    workers: int | None = None,
    lease: Lease | None = None,
    run_id: uuid.UUID | None = None,
) -> SweepResult:
    """Run one sweep at instant `at` (default: now); see the module docstring.

    `workers` share the run's batches on PostgreSQL (default `POSTGRESQL_WORKERS`); SQLite,
    with its single writer, takes one. A caller that took the lease already (`take_lease`, to
    answer at once whether the run can start) passes it, and the id it announced as `run_id`;
    the run releases it either way.
    """
    at = at or clock()
    engine = installation.engine
    if lease is None:
        lease = take_lease(installation, run_id=run_id, ttl=lease_ttl, clock=clock)
    if lease is None:
        current = holder(engine, LEASE_NAME, clock=clock)
        log.info("sweep.skipped", reason="lease held", holder=current)
        return SweepResult("skipped", at, policy_set.content_hash, lease_holder=current)
    try:
        workers = _workers(engine, workers)
    except BaseException:
        release(engine, lease)
        raise
    sweep = _Sweep(
        installation,
        policy_set,
        lease,
        run_id=run_id,
        actor=actor,
        at=at,
        country=country,
        limit=limit,
        batch_size=batch_size,
        clock=clock,
        lease_ttl=lease_ttl,
        anonymizer=anonymizer or Anonymizer(),
        workers=workers,
    )
    try:
        with _heap_frozen():
            return sweep.run(stop, progress)
    except BaseException as exc:
        sweep.fail(exc)
        raise
    finally:
        release(engine, lease)


def take_lease(
    installation: Installation,
    *,
    run_id: uuid.UUID | None = None,
    ttl: timedelta = DEFAULT_TTL,
    clock: Clock = utc_now,
) -> Lease | None:
    """The sweep lease for a run of this process, or None while another live run holds it."""
    owner = LeaseOwner.this_process()
    return acquire(installation.engine, LEASE_NAME, owner, run_id=run_id, ttl=ttl, clock=clock)


def lease_holder(installation: Installation, *, clock: Clock = utc_now) -> str | None:
    """Who holds the sweep lease now (None when it is free)."""
    return holder(installation.engine, LEASE_NAME, clock=clock)


def _workers(engine: Engine, workers: int | None) -> int:
    if workers is None:
        return POSTGRESQL_WORKERS if is_postgresql(engine) else 1
    if not 1 <= workers <= MAX_SWEEP_WORKERS:
        raise BadInput(f"workers must be 1 to {MAX_SWEEP_WORKERS}, not {workers}")
    if workers > 1 and not is_postgresql(engine):
        raise BadInput("SQLite has a single writer: more than one sweep worker needs PostgreSQL")
    return workers


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the garbage collector's full passes off the objects that predate the run.

    A batch allocates a few hundred thousand short-lived objects, so the collector's oldest
    generation filled every few batches and each full pass walked the whole heap of imported
    modules: a quarter of the sweep's time. The run's own objects are still collected.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Sweep:
    """The state of one run; each method is one step of the module docstring."""

    def __init__(
        self,
        installation: Installation,
        policy_set: PolicySet,
        lease: Lease,
        *,
        run_id: uuid.UUID | None = None,
        actor: str,
        at: datetime,
        country: str | None,
        limit: int | None,
        batch_size: int,
        clock: Clock,
        lease_ttl: timedelta,
        anonymizer: Anonymizer,
        workers: int,
    ) -> None:
        self.engine = installation.engine
        self.documents_dir = installation.config.documents_dir
        self.targets = installation.config.targets
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
        self.run_id = run_id or uuid.uuid4()
        self.counts: dict[str, int] = defaultdict(int)
        self.selected = 0
        self.resumes: uuid.UUID | None = None
        self.started = False
        # Compiled once, before any worker starts: every batch of every worker runs it.
        dialect = self.engine.dialect
        self.decide_sql = _driver_sql(batch_statement(policy_set, at, dialect), dialect)
        self.templates: dict[tuple[str, ...], Event] = {}
        self.cites = cites(policy_set)
        self.workers = workers
        self.handled = 0  # work items taken, acted on or not
        self.claimed_upto = _BEFORE_ANY_POSITION  # the highest work item position claimed
        self.lock = threading.Lock()  # guards `counts` and the progress callback
        self.failed = threading.Event()  # a worker failed: the others stop after their batch

    def run(self, stop: threading.Event | None, progress: Progress | None) -> SweepResult:
        recover_staged(self.engine, self.documents_dir)
        self.counts["files_removed"] += remove_pending(self.engine, self.documents_dir)
        self.start()
        log.info(
            "sweep.started",
            run=str(self.run_id),
            selected=self.selected,
            resumes=self.resumes,
            workers=self.workers,
            batch_size=self.batch_size,
        )
        if progress:
            progress(0, self.selected)
        stop = stop or threading.Event()
        if self.workers == 1:
            completed = self.work(stop, progress)
        else:
            completed = self.work_together(stop, progress)
        result = self.finish(RunStatus.COMPLETED if completed else RunStatus.STOPPED)
        if result.anonymized or result.deleted or result.resumes:
            scrub_erased(self.engine)
        return result

    def work(self, stop: threading.Event, progress: Progress | None) -> bool:
        """Take batches until none is left (True) or a stop is asked for (False)."""
        while not (stop.is_set() or self.failed.is_set()):
            t = time.perf_counter()
            with foreign_keys_off(self.engine, _DELETED_FROM, _DELETED_PLAINLY) as conn:
                done = self.batch(conn)
                t_commit = time.perf_counter()
            if done is None:
                return True
            removed = remove_pending(self.engine, self.documents_dir)
            with self.lock:
                self.counts["files_removed"] += removed
                handled = self.record(
                    done, commit_s=time.perf_counter() - t_commit, total_s=t_commit - t
                )
                if progress:
                    progress(handled, self.selected)
        return False

    def work_together(self, stop: threading.Event, progress: Progress | None) -> bool:
        """`work` in `self.workers` threads, each with its own connection and transactions.

        Claims skip the items another worker holds, so no item is taken twice; every lock the
        workers share (audit head, run row, lease) is taken in that order, late in a batch, so
        they queue instead of deadlocking. A worker that fails makes the others stop after
        their batch; its error is the run's.
        """
        finished: list[bool] = []
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                finished.append(self.work(stop, progress))
            except BaseException as exc:
                errors.append(exc)
                self.failed.set()

        # Each worker runs in a copy of the caller's context: the entries it records carry the
        # `via` tag of the front end (and request) that started the run.
        threads = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(worker,),
                name=f"sweep-worker-{i}",
                daemon=True,
            )
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # interrupted while waiting: let the workers end their batch
            self.failed.set()
            for thread in threads:
                thread.join()
            raise
        if errors:
            raise errors[0]
        return all(finished)

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
            position = StoragePosition(_candidates)
            chosen = select(literal(self.run_id, Uuid()), position, due.c.id).select_from(
                due.join(_candidates, _candidates.c.id == due.c.id)
            )
            if self.limit is not None:
                chosen = chosen.order_by(position).limit(self.limit)
            conn.execute(
                insert(_items).from_select(["run_id", "position", "subject_id"], chosen),
                d.params,
            )
            self.selected = conn.execute(
                select(func.count()).where(_items.c.run_id == self.run_id)
            ).scalar_one()
            record(conn, self.event("sweep.start", None, self.run_details()), at=self.clock())
            self.started = True
        if is_postgresql(self.engine):
            # The work list was just filled in one transaction: give the planner its real size
            # for the batches' claims on it.
            with transaction(self.engine) as conn:
                conn.exec_driver_sql("ANALYZE sweep_item")

    def batch(self, conn: Connection) -> _BatchDone | None:
        """Handle the next batch of work items; None when none are left."""
        t0 = time.perf_counter()
        postgresql = is_postgresql(conn)
        if postgresql:
            conn.exec_driver_sql(_BATCH_PLANS)
        # Raw driver values (32 hex digits on SQLite, UUIDs from psycopg): no per-row processing.
        items = self.claim(conn)
        if not items:
            return None
        ids = [subject for _, subject in items]
        values = {"ids": batch_ids(conn.dialect, ids)}
        if postgresql:
            # Lock first, decide after: the decision then sees every hold committed before the
            # lock was granted (placing a hold locks the subject's row too). On SQLite the
            # transaction's BEGIN IMMEDIATE already keeps every other writer out. The lock
            # answers where it found each row (`ctid`, as the text of one `tid[]`): the
            # decision reads them there instead of probing the primary key again.
            c = _candidates.c
            locked = (
                select(literal_column("ctid"))
                .where(among(conn, c.id, ids))
                .with_for_update()
                .subquery("locked")
            )
            found = select(cast(func.array_agg(locked.c.ctid), Text()))
            values["rows"] = conn.execute(found).scalar_one() or "{}"
        t1 = time.perf_counter()
        sql, names = self.decide_sql
        params: Any = tuple(values[name] for name in names) if names else values
        if postgresql:
            conn.exec_driver_sql(_PROBES_ONLY)
        rows = conn.exec_driver_sql(sql, params).all()
        if postgresql:
            conn.exec_driver_sql(_JOINS_AGAIN)
        to_uuid: Callable[[Any], uuid.UUID] = (lambda v: v) if postgresql else uuid.UUID
        # row: (id, country, policy, rule, action) of a subject to act on
        due: dict[str, list[tuple[uuid.UUID, str, str, str]]] = defaultdict(list)
        # Entries of one action under one rule differ only in their subject: grouped here, as
        # they are decided, for `append_alike`.
        alike: dict[tuple[str, str, str, str], list[uuid.UUID]] = defaultdict(list)
        for row in rows:
            subject = to_uuid(row[0])
            due[row[4]].append((subject, row[1], row[2], row[3]))
            alike[(row[4], row[2], row[3], row[1])].append(subject)
        t2 = time.perf_counter()
        now = self.clock()
        if self.targets:
            # The transactional outbox: the targets' messages, before the actions clear the
            # records' external refs (see retention.integration.outbox).
            for action in ("anonymize", "delete", "block"):
                if due.get(action):
                    write_outbox(conn, self.targets, action, [r[0] for r in due[action]], at=now)
        done = self.act(conn, due, now)
        t3 = time.perf_counter()
        groups = []
        for (action, policy, rule, country), subjects in alike.items():
            acted = done.get(action, [])
            if len(acted) != len(due[action]):
                # Not every subject decided due was acted on (a review already open): only
                # those acted on are audited. `acted` is a subset of the decided ones, so one
                # as long is all of them.
                kept = set(acted)
                subjects = [s for s in subjects if s in kept]
            if subjects:
                template = self.template(action, subjects[0], (policy, rule, country))
                groups.append((template, subjects))
        self.audit.append_alike(conn, groups)
        t4 = time.perf_counter()
        counts = {_COUNTERS[action]: len(acted) for action, acted in done.items()}
        increments = {col: _runs.c[col] + counts.get(col, 0) for col in _COUNTERS.values()}
        conn.execute(
            update(_runs)
            .where(_runs.c.id == self.run_id)
            .values(
                cursor=str(to_uuid(ids[-1])),
                batches=_runs.c.batches + 1,
                files_removed=self.counts["files_removed"],
                **increments,
            )
        )
        renew(conn, self.lease, ttl=self.lease_ttl, clock=self.clock)
        timings = {
            "fetch_lock_s": t1 - t0,
            "decide_s": t2 - t1,
            "act_s": t3 - t2,
            "audit_s": t4 - t3,
            "progress_s": time.perf_counter() - t4,
        }
        return _BatchDone(len(ids), counts, timings)

    def claim(self, conn: Connection) -> list[tuple[int, Any]]:
        """Take (and delete, in this transaction) the next batch of work items, in order."""
        with self.lock:
            after = self.claimed_upto
        items: list[tuple[int, Any]]
        if is_postgresql(conn):
            params = {"run": self.run_id, "n": self.batch_size, "after": after}
            # One fetch of every row (iterating the result fetched them one at a time).
            items = [(p, s) for p, s in conn.execute(_TAKE_PG, params).all()]
        else:
            # The driver's own cursor: SQLAlchemy fetched the batch's rows one call per row,
            # which cost more than SQLite's read of them.
            driver = conn.connection.driver_connection
            assert driver is not None
            cursor = driver.execute(_TAKE_SQLITE, (self.run_id.hex, after, self.batch_size))
            items = cursor.fetchall()
        if items:
            with self.lock:
                self.claimed_upto = max(self.claimed_upto, items[-1][0])
            span = {"run": self.run_id, "first": items[0][0], "last": items[-1][0]}
            if is_postgresql(conn):
                span["positions"] = "{" + ",".join(str(p) for p, _ in items) + "}"
            conn.execute(_DROP[conn.dialect.name], span)
        return items

    def record(self, done: _BatchDone, **timings: float) -> int:
        """Count a committed batch and log its figures; returns the items handled so far.

        Call it holding `self.lock`.
        """
        for col, n in done.counts.items():
            self.counts[col] += n
        self.counts["unchanged"] += done.handled - sum(done.counts.values())
        self.counts["batches"] += 1
        self.handled += done.handled
        log.info(
            "sweep.batch",
            run=str(self.run_id),
            batch=self.counts["batches"],
            subjects=done.handled,
            **{k: round(v, 3) for k, v in {**done.timings, **timings}.items()},
            **done.counts,
        )
        return self.handled

    def act(
        self,
        conn: Connection,
        due: Mapping[str, list[tuple[uuid.UUID, str, str, str]]],
        now: datetime,
    ) -> dict[str, list[uuid.UUID]]:
        """Perform each action on its (subject, country, policy, rule); returns the ids changed.

        The batch's rows are locked and were just decided due (present, not anonymized, not
        blocked, no open review), so the actions skip their own check (`locked`) and fail the
        batch if a statement changes fewer rows than that promised.
        """
        done: dict[str, list[uuid.UUID]] = {}
        if rows := due.get("anonymize"):
            done["anonymize"] = anonymize(
                conn,
                [(subject, country) for subject, country, _, _ in rows],
                at=now,
                anonymizer=self.anonymizer,
                run_id=self.run_id,
                locked=True,
            )
        if rows := due.get("delete"):
            done["delete"] = delete_subjects(
                conn, [r[0] for r in rows], at=now, run_id=self.run_id, locked=True
            )
        if rows := due.get("block"):
            done["block"] = block(conn, [r[0] for r in rows], at=now, locked=True)
        if rows := due.get("review"):
            requests = [
                ReviewRequest(subject, country, policy, rule, self.cites.get((policy, rule)))
                for subject, country, policy, rule in rows
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
            record(conn, self.event("sweep.finish", None, details), at=self.clock())
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

    def template(self, action: str, subject: uuid.UUID, rule: tuple[str, str, str]) -> Event:
        """The validated event of `action` under (policy, rule, country), to copy per subject.

        Entries of one rule in one run differ only in their subject, so their details are
        validated once per run instead of once per subject.
        """
        key = (action, *rule)
        event = self.templates.get(key)
        if event is None:
            event = self.event(f"candidate.{action}", subject, self.rule_details(*rule))
            (event,) = tagged([event])  # copied per subject by `append_alike`, tag included
            self.templates[key] = event
        return event

    def event(self, action: str, subject: uuid.UUID | None, details: Mapping[str, Any]) -> Event:
        reason = "retention period expired" if subject is not None else ""
        return Event(
            actor=self.actor, action=action, subject=subject, reason=reason, details=details
        )
