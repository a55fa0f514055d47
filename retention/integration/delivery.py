"""The delivery worker: send the outbox's messages to their targets, at least once, provably.

Per target, in rounds: claim a batch of due messages (`pending`, or `failed` and past `next_at`)
by stamping `claimed_until` and committing, so that a worker killed at any instant loses
nothing: its claims expire and a later round sends the same messages again under the same id
(the receiver's `webhook-id` / `Idempotency-Key`), which is the only way a duplicate can arise.
The batch is sent by one asyncio event loop (a thread of the run's own) over the target's
keep-alive connections (`retention.integration.transport`: at most `concurrency` of them and as
many requests in flight, no retries or redirects of its own; threads over urllib3 spent most of
the worker's CPU on the client and the GIL, and the client was the worker's limit), no faster
than `rate` requests per second (a token bucket); then one transaction records every outcome
(in the calling thread, while the loop already sends the next batch):

- a 2xx: `delivered`, the target's record id (`source_ref`) dropped, and an audit entry
  `integration.delivered` (subject, target, message, attempt, status, the action's seq). A 404
  or 410 from Greenhouse means the candidate is not (or no longer) there: the erasure holds, and
  it is recorded the same way with that status;
- anything else: `failed`, retried after an exponential backoff with full jitter (2 s doubling,
  at most an hour), never sooner than a `Retry-After` the target sent; a 429 or 503 with
  `Retry-After` pauses the whole target, and the batch's unsent messages go back unattempted;
- a message still failing `dead_after` after it was written: `dead`, audited as
  `integration.dead` (subject, target, attempts, last status or error); it keeps its
  `source_ref`, since the copy is still out there, and `gdpr integration retry` puts it back.

Messages are told in the order they were written; the worker never holds a database
transaction open while it waits for the network.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select, text, update

from audit_log import Event, Outcome
from audit_log import metadata as audit_metadata
from retention.clock import Clock, utc_now
from retention.config import Integration, IntegrationKind
from retention.install import Installation
from retention.integration.outbox import ACTIONS
from retention.integration.secrets import api_key, webhook_secrets
from retention.integration.targets import Message, Request, message_id, request_for
from retention.integration.transport import Pool, TransportError, proxy_for
from retention.logs import get_logger
from retention.store import (
    WAITING,
    MessageState,
    OutboxMessage,
    is_postgresql,
    record,
    table_of,
    transaction,
)

__all__ = [
    "BASE_DELAY",
    "MAX_DELAY",
    "DeliveryRun",
    "backoff",
    "deliver",
    "retry_after",
    "retry_dead",
]

log = get_logger("retention.integration")

BASE_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(hours=1)
BATCH_PER_CONNECTION = 32
_outbox = table_of(OutboxMessage)
audit_entry = audit_metadata.tables["audit_entry"]

_AUDIT_ACTIONS = {v: k for k, v in ACTIONS.items()}
_rng = random.SystemRandom()


def backoff(attempts: int, rng: random.Random = _rng) -> timedelta:
    """The wait after the `attempts`-th failure: full jitter over an exponential cap."""
    cap = min(MAX_DELAY.total_seconds(), BASE_DELAY.total_seconds() * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=rng.uniform(cap / 2, cap))


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header (seconds, or an HTTP date) as a wait; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=min(int(value), 86_400))
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        return None
    return max(at - now, timedelta(0))


@dataclass
class DeliveryRun:
    """What a run of the worker did, per target: delivered, failed (to retry), dead."""

    delivered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    dead: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, counter: dict[str, int], target: str, n: int) -> None:
        if n:
            counter[target] = counter.get(target, 0) + n

    def to_json(self) -> dict[str, Any]:
        return {
            "delivered": dict(sorted(self.delivered.items())),
            "failed": dict(sorted(self.failed.items())),
            "dead": dict(sorted(self.dead.items())),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Outcome:
    msg: Message
    status: int | None = None  # HTTP status; None: no response
    error: str | None = None  # a short code: connect, timeout, ...
    wait: timedelta | None = None  # Retry-After
    attempted: bool = True
    absent_confirms: bool = False  # Greenhouse: 404/410 means the candidate is not there

    @property
    def confirmed(self) -> bool:
        if self.status is None:
            return False
        return 200 <= self.status < 300 or (self.absent_confirms and self.status in (404, 410))


class _Bucket:
    """A token bucket: at most `rate` starts per second, bursts up to the concurrency. Used by
    the coroutines of one event loop only, so it needs no lock."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(max(burst, 1))
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.paused_until = 0.0  # monotonic; a 429/503 with Retry-After pauses the target

    async def take(self, stop: threading.Event) -> bool:
        """Wait for a token; False if the target is paused (or the run is stopping)."""
        while True:
            now = time.monotonic()
            if now < self.paused_until or stop.is_set():
                return False
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            await asyncio.sleep((1 - self.tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


class _Loop:
    """The run's event loop, running in a thread of its own; the calling thread hands it
    coroutines and waits for their results (or does the database work meanwhile)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="deliver", daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        """Stop the loop; a batch still in flight (the run is failing) is cancelled first."""
        self.submit(_cancel_others()).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


async def _cancel_others() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


@dataclass
class _Target:
    config: Integration
    credential: str
    pool: Pool
    bucket: _Bucket
    stop: threading.Event
    # At most `concurrency` requests in flight (a batch's and the next one's together).
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.config.concurrency)

    @property
    def batch_size(self) -> int:
        return self.config.concurrency * BATCH_PER_CONNECTION

    @property
    def lease(self) -> timedelta:
        # Long enough for a whole batch at the rate limit, with every request timing out twice.
        seconds = self.batch_size / self.config.rate + 2 * self.config.timeout_seconds + 30
        return timedelta(seconds=seconds)

    async def send_all(self, batch: Sequence[Message]) -> list[_Outcome]:
        """Send a batch, `concurrency` at a time; the outcomes in the batch's order."""
        outcomes: list[_Outcome | None] = [None] * len(batch)
        todo = iter(enumerate(batch))

        async def work() -> None:
            for i, msg in todo:
                async with self.slots:
                    outcomes[i] = await self.send(msg)

        await asyncio.gather(*(work() for _ in range(min(self.config.concurrency, len(batch)))))
        return [o for o in outcomes if o is not None]

    async def send(self, msg: Message) -> _Outcome:
        if not await self.bucket.take(self.stop):
            return _Outcome(msg, attempted=False)
        # The wall clock, not the injected one: the receiver checks the signed timestamp
        # against its own clock (Standard Webhooks' 5 minutes), and Retry-After dates are
        # wall-clock times.
        now = utc_now()
        request: Request = request_for(self.config, self.credential, msg, now)
        try:
            response = await self.pool.request(
                request.method, request.url, request.headers, request.body
            )
        except TransportError as exc:
            return _Outcome(msg, error=exc.code)
        wait = retry_after(response.headers.get("retry-after"), now)
        if response.status in (429, 503) and wait is not None:
            self.bucket.pause(wait.total_seconds())
        return _Outcome(
            msg,
            status=response.status,
            wait=wait,
            absent_confirms=self.config.kind is IntegrationKind.GREENHOUSE,
        )


def _credential(target: Integration) -> str:
    if target.kind is IntegrationKind.GREENHOUSE:
        return api_key(target)
    return webhook_secrets(target)[0]


def deliver(
    installation: Installation,
    targets: Sequence[Integration],
    *,
    limit: int | None = None,
    clock: Clock = utc_now,
    stop: threading.Event | None = None,
) -> DeliveryRun:
    """Deliver what is due to each of `targets` until nothing is due (or `limit` per target)."""
    stop = stop or threading.Event()
    run = DeliveryRun()
    started = time.perf_counter()
    loop = _Loop()
    try:
        for config in targets:
            assert config.url is not None
            pool = Pool(
                config.url,
                size=config.concurrency,
                timeout=config.timeout_seconds,
                proxy=proxy_for(config.url),
            )
            target = _Target(
                config, _credential(config), pool, _Bucket(config.rate, config.concurrency), stop
            )
            try:
                _deliver_target(installation, target, loop, run, limit, clock)
            finally:
                loop.submit(_close(pool)).result()
    finally:
        loop.close()
    run.seconds = time.perf_counter() - started
    return run


async def _close(pool: Pool) -> None:
    pool.close()
    await asyncio.sleep(0)  # the transports' connection_lost run: the sockets are closed now


def _deliver_target(
    installation: Installation,
    target: _Target,
    loop: _Loop,
    run: DeliveryRun,
    limit: int | None,
    clock: Clock,
) -> None:
    """Rounds of claim, send, record; a batch's outcomes are recorded while the next is sent."""
    claimed = 0
    in_flight: Future[list[_Outcome]] | None = None
    while True:
        batch: list[Message] = []
        if not target.stop.is_set() and (limit is None or claimed < limit):
            size = target.batch_size if limit is None else min(target.batch_size, limit - claimed)
            batch = _claim(installation, target, size, clock)
            claimed += len(batch)
        sending = loop.submit(target.send_all(batch)) if batch else None
        stop_target = False
        if in_flight is not None:
            outcomes = in_flight.result()
            _record(installation, target, outcomes, run, clock)
            # Paused (Retry-After) or stopping: what is in flight goes back, then stop.
            stop_target = not any(o.attempted for o in outcomes)
        if sending is None:
            return
        if stop_target:
            _record(installation, target, sending.result(), run, clock)
            return
        in_flight = sending


def _claim(installation: Installation, target: _Target, size: int, clock: Clock) -> list[Message]:
    """Claim up to `size` due messages of `target` and commit the claim; oldest first."""
    o = _outbox.c
    with transaction(installation.engine) as conn:
        now = clock()
        due = (
            select(o.id)
            .where(
                o.target == target.config.name,
                text(WAITING),  # as the partial index says it, so that SQLite uses it
                o.next_at <= now,
                or_(o.claimed_until.is_(None), o.claimed_until < now),
            )
            .order_by(o.id)
            .limit(size)
        )
        if is_postgresql(conn):
            due = due.with_for_update(skip_locked=True)
        rows = conn.execute(
            update(_outbox)
            .where(o.id.in_(due.scalar_subquery()))
            .values(claimed_until=now + target.lease)
            .returning(
                o.id,
                o.subject_id,
                o.source_ref,
                o.action,
                o.after_seq,
                o.audit_seq,
                o.attempts,
                o.created_at,
                o.retried_at,
            )
        ).all()
        if not rows:
            return []
        seqs = _resolve_seqs(conn, rows)
        entries = _entries(conn, [s for s in seqs.values() if s is not None])
    rows = sorted(rows, key=lambda r: r.id)
    return [
        Message(
            id=r.id,
            target=target.config.name,
            subject=r.subject_id,
            source_ref=r.source_ref,
            action=r.action,
            audit_seq=seqs.get(r.id),
            attempts=r.attempts,
            created_at=r.created_at,
            entry=entries.get(seqs.get(r.id) or -1, {}),
            retried_at=r.retried_at,
        )
        for r in rows
    ]


def _resolve_seqs(conn: Connection, rows: Sequence[Any]) -> dict[int, int | None]:
    """The audit seq of each row's action: stored, or found now (and stored) for new rows."""
    seqs: dict[int, int | None] = {r.id: r.audit_seq for r in rows}
    todo = [r for r in rows if r.audit_seq is None]
    if not todo:
        return seqs
    e = audit_entry.c
    wanted = {(r.subject_id, ACTIONS[r.action]) for r in todo}
    found = conn.execute(
        select(e.seq, e.subject, e.action)
        .where(
            e.subject.in_(list({s for s, _ in wanted})),
            e.seq >= min(r.after_seq for r in todo),
            e.action.in_(list({a for _, a in wanted})),
        )
        .order_by(e.seq)
    ).all()
    by_key: dict[tuple[uuid.UUID, str], list[int]] = {}
    for f in found:
        by_key.setdefault((f.subject, f.action), []).append(f.seq)
    updates = []
    for r in todo:
        seq = next(
            (s for s in by_key.get((r.subject_id, ACTIONS[r.action]), []) if s >= r.after_seq), None
        )
        seqs[r.id] = seq
        if seq is not None:
            updates.append({"b_id": r.id, "b_seq": seq})
    if updates:
        conn.execute(
            update(_outbox)
            .where(_outbox.c.id == bindparam("b_id"))
            .values(audit_seq=bindparam("b_seq")),
            updates,
        )
    return seqs


def _entries(conn: Connection, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not seqs:
        return {}
    e = audit_entry.c
    rows = conn.execute(select(e.seq, e.canonical).where(e.seq.in_(list(set(seqs))))).all()
    return {r.seq: json.loads(r.canonical) for r in rows}


def _record(
    installation: Installation,
    target: _Target,
    outcomes: Sequence[_Outcome],
    run: DeliveryRun,
    clock: Clock,
) -> None:
    """Record every outcome of a batch in one transaction, with the audit entries."""
    name = target.config.name
    o = _outbox.c
    with transaction(installation.engine) as conn:
        now = clock()
        # Confirmations by (status, attempt): one set-based UPDATE each (a batch usually has
        # one group); failures carry a jittered next_at of their own, so one row each.
        delivered: dict[tuple[int, int], list[int]] = {}
        failed: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        released: list[int] = []
        events: list[Event] = []
        paused_until = now
        for out in outcomes:
            msg = out.msg
            if not out.attempted:
                released.append(msg.id)
                continue
            attempt = msg.attempts + 1
            if out.confirmed:
                assert out.status is not None
                delivered.setdefault((out.status, attempt), []).append(msg.id)
                events.append(
                    Event(
                        actor=f"integration:{name}",
                        action="integration.delivered",
                        subject=msg.subject,
                        details={
                            "target": name,
                            "message": message_id(msg.id),
                            "action": msg.action,
                            "audit_seq": msg.audit_seq,
                            "attempt": attempt,
                            "status": out.status,
                        },
                    )
                )
                continue
            if now - msg.age_from >= target.config.dead_after:
                dead.append(
                    {
                        "b_id": msg.id,
                        "b_status": out.status,
                        "b_error": out.error,
                        "b_attempts": attempt,
                    }
                )
                events.append(
                    Event(
                        actor=f"integration:{name}",
                        action="integration.dead",
                        subject=msg.subject,
                        outcome=Outcome.ERROR,
                        reason=f"undelivered after {target.config.dead_after}",
                        details={
                            "target": name,
                            "message": message_id(msg.id),
                            "action": msg.action,
                            "audit_seq": msg.audit_seq,
                            "attempts": attempt,
                            "status": out.status,
                            "error": out.error,
                        },
                    )
                )
                continue
            wait = backoff(attempt)
            if out.wait is not None:
                wait = max(wait, out.wait)
            if out.status in (429, 503) and out.wait is not None:
                paused_until = max(paused_until, now + out.wait)
            failed.append(
                {
                    "b_id": msg.id,
                    "b_status": out.status,
                    "b_error": out.error,
                    "b_attempts": attempt,
                    "b_next": now + wait,
                }
            )
        by_id = o.id == bindparam("b_id")
        for (status, attempt), ids in delivered.items():
            conn.execute(
                update(_outbox)
                .where(o.id.in_(ids))
                .values(
                    state=MessageState.DELIVERED.value,
                    attempts=attempt,
                    last_status=status,
                    last_error=None,
                    source_ref=None,
                    claimed_until=None,
                    finished_at=now,
                )
            )
        if failed:
            conn.execute(
                update(_outbox)
                .where(by_id)
                .values(
                    state=MessageState.FAILED.value,
                    attempts=bindparam("b_attempts"),
                    last_status=bindparam("b_status"),
                    last_error=bindparam("b_error"),
                    next_at=bindparam("b_next", type_=o.next_at.type),
                    claimed_until=None,
                ),
                failed,
            )
        if dead:
            conn.execute(
                update(_outbox)
                .where(by_id)
                .values(
                    state=MessageState.DEAD.value,
                    attempts=bindparam("b_attempts"),
                    last_status=bindparam("b_status"),
                    last_error=bindparam("b_error"),
                    claimed_until=None,
                    finished_at=now,
                ),
                dead,
            )
        if released:
            conn.execute(
                update(_outbox)
                .where(o.id.in_(released))
                .values(claimed_until=None, next_at=paused_until)
            )
        if events:
            record(conn, *events, at=now)
    confirmed = sum(len(ids) for ids in delivered.values())
    run.add(run.delivered, name, confirmed)
    run.add(run.failed, name, len(failed))
    run.add(run.dead, name, len(dead))
    log.info(
        "integration.batch",
        target=name,
        delivered=confirmed,
        failed=len(failed),
        dead=len(dead),
        released=len(released),
    )


def retry_dead(
    installation: Installation,
    targets: Sequence[Integration],
    *,
    actor: str,
    clock: Clock = utc_now,
) -> dict[str, int]:
    """Put each target's dead messages back to be delivered now; audited per target.

    The dead-letter age starts again from now (`retried_at`); when the message was written stays
    as it was.
    """
    o = _outbox.c
    counts: dict[str, int] = {}
    with transaction(installation.engine) as conn:
        now = clock()
        for target in targets:
            where = and_(o.target == target.name, o.state == MessageState.DEAD.value)
            n = conn.execute(
                update(_outbox)
                .where(where)
                .values(
                    state=MessageState.FAILED.value,
                    next_at=now,
                    retried_at=now,
                    finished_at=None,
                    claimed_until=None,
                )
            ).rowcount
            counts[target.name] = n
            record(
                conn,
                Event(
                    actor=actor,
                    action="integration.retry",
                    details={"target": target.name, "requeued": n},
                ),
                at=now,
            )
    return counts
