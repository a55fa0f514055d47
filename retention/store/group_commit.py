"""Group commit of audit entries: the entries of actions finishing together share one append.

An audited read pays for a write transaction of its own (lock the log's head, insert the entry,
move the head, commit), which costs several times the read. Under concurrency that cost can be
shared, the way databases group the commits of concurrent transactions: each caller hands its
(already tagged) entries to `GroupCommit.append` and blocks; one caller at a time is the leader
and appends everything queued so far in ONE transaction, one head lock and one commit, then
wakes the others; whoever queued meanwhile goes in the next group, led by one of them. So:

- a caller returns only once its own entries are committed (a response is released after its
  audit entry, as without grouping);
- a failed commit fails every caller of its group (each gets `InstallationError`; nothing of
  theirs is returned), and the next group starts clean;
- the hash chain stays one line: a group is one append, under the head row's lock, like any
  other writer's.

Alone, a caller commits its own entries at once (no waiting for company). Off by default: the
CLI records in the action's transaction; the HTTP API turns it on (`[api] group_commit`).

Whole units of work share commits the same way (`GroupCommit.run`): a source's inbound events,
each a small write transaction of its own (the delivery id, the records, the audit entry), one
per request. The leader runs each queued unit, in its caller's context (so its audit entries
carry the caller's request id), in one transaction with whatever else is queued, commits once,
and hands each caller its unit's result; a caller still returns only once its own effect is
committed. If anything in such a group fails (a unit raises, or the commit does), the group is
rolled back and every member is run again alone in a transaction of its own, so one caller's
failure is that caller's only: it gets its own exception, the others their results. What the
units of a group record (`record` with its instant) is appended once, at the end of the group,
in the order they recorded it (`deferred_appends`): one head lock, insert and head move for the
group, not one per unit. On SQLite
this also keeps concurrent requests from meeting at `BEGIN IMMEDIATE`, where the driver's busy
handler would put them to sleep for milliseconds at a time.
Callers read in `reader` (on SQLite a read snapshot without the write lock), so reads do not
queue behind the group's write.

A coroutine hands its unit over with `GroupCommit.submit` instead, and awaits it without holding
a thread: the HTTP API's inbound route is an `async def` whose requests all wait on the event
loop while one writer thread (started on the first submit, stopped by `close`) leads their
groups, the same way a blocked caller would. A group's awaiting callers are woken with one
call into their event loop once it committed (one hop per group, not one thread per request);
what a caller gets is what `run` would have returned or raised.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from audit_log import Event
from retention.errors import InstallationError
from retention.logs import get_logger
from retention.store.audit import deferred_appends, record_stamped, tagged
from retention.store.engine import reader_for, transaction

__all__ = ["GroupCommit", "GroupStats"]

MAX_GROUP = 512

T = TypeVar("T")

log = get_logger(__name__)


@dataclass
class _Pending:
    stamped: list[tuple[Event, datetime]]
    finished: bool = False
    error: str | None = None  # the type name of what failed the group


@dataclass
class _Unit(_Pending):
    """A unit of work (`GroupCommit.run`) and the context of the caller it runs for."""

    unit: Callable[[Connection], Any] | None = None
    context: contextvars.Context | None = None
    result: Any = None
    raised: BaseException | None = None
    future: asyncio.Future[Any] | None = None  # submitted from a coroutine: settled in its loop

    def run_in(self, conn: Connection) -> None:
        assert self.unit is not None and self.context is not None
        self.result = self.context.run(self.unit, conn)


@dataclass
class GroupStats:
    """How the groups went (for metrics and the benchmark)."""

    groups: int = 0
    callers: int = 0
    failed_groups: int = 0
    largest: int = 0


class GroupCommit:
    """Appends audit entries of concurrent callers in shared transactions (thread-safe)."""

    def __init__(self, engine: Engine, *, max_group: int = MAX_GROUP) -> None:
        self.engine = engine
        self.reader = reader_for(engine)
        self.max_group = max_group
        self.stats = GroupStats()
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self._writer: threading.Thread | None = None
        self._closed = False

    def append(self, events: Sequence[tuple[Event, datetime]]) -> None:
        """Commit `events` (each with its instant), tagged in the caller's context; block until
        they are committed. Raises `InstallationError` if their group's commit failed."""
        marked = tagged([event for event, _ in events])
        mine = _Pending(list(zip(marked, [at for _, at in events], strict=True)))
        self._queue_and_lead(mine)
        if mine.error is not None:
            raise InstallationError(
                f"the audit entry could not be committed ({mine.error}): nothing was returned"
            )

    def run(self, unit: Callable[[Connection], T]) -> T:
        """Run `unit(conn)` in a transaction shared with other callers' units and entries; return
        its result once that transaction committed, or raise what `unit` (or, alone, its own
        commit) raised. `unit` may run twice: in a group that failed (rolled back) and alone."""
        mine = _Unit([], unit=unit, context=contextvars.copy_context())
        self._queue_and_lead(mine)
        if mine.raised is not None:
            raise mine.raised
        if mine.error is not None:
            raise InstallationError(f"the unit of work could not be committed ({mine.error})")
        result: T = mine.result
        return result

    def submit(self, unit: Callable[[Connection], T]) -> asyncio.Future[T]:
        """From a coroutine: queue `unit` for the writer thread; the returned future (of the
        running event loop) has `unit`'s result once its transaction committed, or what `run`
        would have raised. Cancelling the future does not withdraw the unit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        mine = _Unit([], unit=unit, context=contextvars.copy_context(), future=future)
        with self._cond:
            if self._closed:
                raise InstallationError("the group commit is closed")
            self._queue.append(mine)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_queued, name="group-commit-writer", daemon=True
                )
                self._writer.start()
            self._cond.notify_all()
        return future

    def _write_queued(self) -> None:
        """The writer thread: lead a group whenever something is queued and nobody leads."""
        while True:
            with self._cond:
                while (not self._queue and not self._closed) or self._leading:
                    self._cond.wait()
                if not self._queue:
                    return  # closed, and everything queued was written
                group = self._take_group()
            self._lead(group)

    def _queue_and_lead(self, mine: _Pending) -> None:
        """Queue `mine` and wait until a leader has finished it, or until nobody leads: then
        lead the next group (which holds it) from this thread."""
        with self._cond:
            self._queue.append(mine)
            while self._leading and not mine.finished:
                self._cond.wait()
            if mine.finished:
                return
            group = self._take_group()
        self._lead(group)

    def _take_group(self) -> list[_Pending]:
        """Become the leader of the next group (called holding the lock)."""
        self._leading = True
        group = self._queue[: self.max_group]
        del self._queue[: self.max_group]
        return group

    def _lead(self, group: list[_Pending]) -> None:
        error: str | None = None
        try:
            if any(isinstance(pending, _Unit) for pending in group):
                self._run_units(group)
            else:
                self._write([pair for pending in group for pair in pending.stamped])
        except Exception as exc:
            error = type(exc).__name__
            log.error("group_commit.failed", entries=len(group), error=error)
        with self._cond:
            for pending in group:
                pending.finished, pending.error = True, error
            self._leading = False
            stats = self.stats
            stats.groups += 1
            stats.callers += len(group)
            stats.largest = max(stats.largest, len(group))
            if error is not None:
                stats.failed_groups += 1
            self._cond.notify_all()
        _settle_futures(group)

    def _run_units(self, group: list[_Pending]) -> None:
        """One transaction for the whole group; if it fails, each member alone (see above)."""
        try:
            with transaction(self.engine) as conn:
                stamped = [pair for pending in group for pair in pending.stamped]
                if stamped:
                    record_stamped(conn, stamped)
                with deferred_appends(conn):
                    for pending in group:
                        if isinstance(pending, _Unit):
                            pending.run_in(conn)
            return
        except Exception as exc:
            if len(group) == 1 and isinstance(group[0], _Unit):
                group[0].raised = exc
                return
            log.warning("group_commit.split", members=len(group), error=type(exc).__name__)
        for pending in group:
            try:
                with transaction(self.engine) as conn:
                    if isinstance(pending, _Unit):
                        pending.result = None
                        pending.run_in(conn)
                    else:
                        record_stamped(conn, pending.stamped)
            except Exception as exc:
                if isinstance(pending, _Unit):
                    pending.raised = exc
                else:
                    pending.error = type(exc).__name__

    def _write(self, stamped: list[tuple[Event, datetime]]) -> None:
        """One transaction: one head lock, the group's entries, one commit."""
        with transaction(self.engine) as conn:
            record_stamped(conn, stamped)

    def close(self) -> None:
        """Write what is queued, stop the writer thread, dispose the reader."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join()
        if self.reader is not self.engine:
            self.reader.dispose()


def _settle_futures(group: list[_Pending]) -> None:
    """Hand each submitted unit of a finished group its outcome, one call into each loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Unit]] = {}
    for pending in group:
        if isinstance(pending, _Unit) and pending.future is not None:
            by_loop.setdefault(pending.future.get_loop(), []).append(pending)
    for loop, units in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, units)
        except RuntimeError:  # the loop was closed meanwhile: nobody is waiting any more
            log.warning("group_commit.loop_closed", units=len(units))


def _settle(units: list[_Unit]) -> None:
    for unit in units:
        future = unit.future
        assert future is not None
        if future.done():  # cancelled: the unit ran all the same
            continue
        if unit.raised is not None:
            future.set_exception(unit.raised)
        elif unit.error is not None:
            future.set_exception(
                InstallationError(f"the unit of work could not be committed ({unit.error})")
            )
        else:
            future.set_result(unit.result)
