"""Group commit: concurrent callers share one append; each returns once its entry is committed;
a failed commit fails its whole group; the chain stays one line. Whole units of work share
transactions the same way, each in its caller's context; a failing unit fails its caller only."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import OperationalError

from audit_log import AuditLog, Event
from audit_log.schema import audit_entry
from retention.errors import InstallationError
from retention.store import (
    GroupCommit,
    deferred_appends,
    flush_deferred,
    record,
    record_stamped,
    recorded_via,
    transaction,
)

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class HeldFirst(GroupCommit):
    """Holds the first group's leader until `release` is set, so that others queue meanwhile."""

    def __init__(self, engine: Engine, fail_group: int | None = None) -> None:
        super().__init__(engine)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_group = fail_group
        self.calls = 0

    def _write(self, stamped: list[tuple[Event, datetime]]) -> None:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.release.wait(10)
        if self.calls == self.fail_group:
            with transaction(self.engine) as conn:
                record_stamped(conn, stamped)
                raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        super()._write(stamped)


def entries(engine: Engine) -> list[dict]:
    t = audit_entry.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.seq, t.canonical, t.leaf_hash).order_by(t.seq)).all()
    return [
        {"seq": r.seq, "leaf": bytes(r.leaf_hash).hex(), **json.loads(r.canonical)} for r in rows
    ]


def call(group: GroupCommit, n: int, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        with recorded_via("api", f"req-{n}"):
            try:
                group.append([(Event(actor="a", action=f"x.{n}"), AT + timedelta(seconds=n))])
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_callers_arriving_together_share_one_append(engine: Engine) -> None:
    group = HeldFirst(engine)
    errors: list[BaseException] = []
    first = call(group, 0, errors)
    assert group.entered.wait(10)
    others = [call(group, n, errors) for n in range(1, 6)]
    while True:  # every other caller queued behind the held leader
        with group._cond:
            if len(group._queue) == 5:
                break
    done_early = [t for t in others if not t.is_alive()]
    assert done_early == []  # nobody returned before its entry was committed
    group.release.set()
    for t in [first, *others]:
        t.join(10)
    assert errors == []
    assert (group.stats.groups, group.stats.largest, group.stats.callers) == (2, 5, 6)
    log = entries(engine)
    assert [e["seq"] for e in log] == list(range(len(log)))
    mine = {e["action"]: e for e in log if e["action"].startswith("x.")}
    assert set(mine) == {f"x.{n}" for n in range(6)}
    for n in range(6):  # each entry keeps its own caller's tag and instant
        assert mine[f"x.{n}"]["details"]["via"]["request_id"] == f"req-{n}"
        assert mine[f"x.{n}"]["ts"].startswith(f"2026-12-01T12:00:0{n}")
    for before, after in itertools.pairwise(log):  # one chain, no fork
        assert after["prev"] == before["leaf"]


def test_a_failed_commit_fails_its_whole_group_only(engine: Engine) -> None:
    group = HeldFirst(engine, fail_group=2)
    errors: list[BaseException] = []
    first = call(group, 0, errors)
    assert group.entered.wait(10)
    others = [call(group, n, errors) for n in range(1, 4)]
    while True:
        with group._cond:
            if len(group._queue) == 3:
                break
    group.release.set()
    for t in [first, *others]:
        t.join(10)
    assert len(errors) == 3
    assert all(isinstance(e, InstallationError) for e in errors)
    assert "OperationalError" in str(errors[0])
    assert {e["action"] for e in entries(engine) if e["action"].startswith("x.")} == {"x.0"}
    ok: list[BaseException] = []
    call(group, 9, ok).join(10)  # the next group starts clean
    assert ok == []
    assert "x.9" in {e["action"] for e in entries(engine)}


def test_alone_a_caller_commits_at_once(engine: Engine) -> None:
    group = GroupCommit(engine)
    group.append([(Event(actor="a", action="x.alone"), AT)])
    assert entries(engine)[-1]["action"] == "x.alone"
    assert group.stats.groups == 1


@pytest.mark.parametrize("callers", [16])
def test_many_threads_one_chain(engine: Engine, callers: int) -> None:
    group = GroupCommit(engine)
    errors: list[BaseException] = []
    threads = [call(group, n, errors) for n in range(callers)]
    for t in threads:
        t.join(30)
    assert errors == []
    log = entries(engine)
    assert [e["seq"] for e in log] == list(range(len(log)))
    assert all(a["prev"] == b["leaf"] for b, a in itertools.pairwise(log))
    assert group.stats.callers == callers


# --- whole units of work (GroupCommit.run) ----------------------------------------------------


def unit_call(
    group: GroupCommit,
    n: int,
    results: dict[int, object],
    *,
    hold: threading.Event | None = None,
    entered: threading.Event | None = None,
    fail: bool = False,
) -> threading.Thread:
    """A caller whose unit records `x.N` (in its own request's context) and returns N."""

    def unit(conn: Connection) -> int:
        record(conn, Event(actor="a", action=f"x.{n}"), at=AT + timedelta(seconds=n))
        if entered is not None:
            entered.set()
        if hold is not None:
            assert hold.wait(10)
        if fail:
            raise ValueError("this unit fails")
        return n

    def run() -> None:
        with recorded_via("api", f"req-{n}"):
            try:
                results[n] = group.run(unit)
            except BaseException as exc:
                results[n] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def queued(group: GroupCommit, n: int) -> None:
    while True:
        with group._cond:
            if len(group._queue) == n:
                return


def test_units_arriving_together_share_one_transaction(engine: Engine) -> None:
    group = GroupCommit(engine)
    hold, entered = threading.Event(), threading.Event()
    results: dict[int, object] = {}
    first = unit_call(group, 0, results, hold=hold, entered=entered)
    assert entered.wait(10)
    others = [unit_call(group, n, results) for n in range(1, 6)]
    queued(group, 5)
    assert [t for t in others if not t.is_alive()] == []  # nobody returns before its commit
    hold.set()
    for t in [first, *others]:
        t.join(10)
    assert results == {n: n for n in range(6)}  # each caller gets its own unit's result
    assert (group.stats.groups, group.stats.largest, group.stats.callers) == (2, 5, 6)
    log = entries(engine)
    mine = {e["action"]: e for e in log if e["action"].startswith("x.")}
    assert set(mine) == {f"x.{n}" for n in range(6)}
    for n in range(6):  # a unit run by another caller's thread keeps its own caller's context
        assert mine[f"x.{n}"]["details"]["via"]["request_id"] == f"req-{n}"
    assert all(a["prev"] == b["leaf"] for b, a in itertools.pairwise(log))


def test_a_failing_unit_fails_its_own_caller_only(engine: Engine) -> None:
    group = GroupCommit(engine)
    hold, entered = threading.Event(), threading.Event()
    results: dict[int, object] = {}
    first = unit_call(group, 0, results, hold=hold, entered=entered)
    assert entered.wait(10)
    others = [unit_call(group, n, results, fail=n == 2) for n in range(1, 5)]
    queued(group, 4)
    hold.set()
    for t in [first, *others]:
        t.join(10)
    assert isinstance(results.pop(2), ValueError)  # its own exception, not a generic one
    assert results == {0: 0, 1: 1, 3: 3, 4: 4}
    actions = {e["action"] for e in entries(engine)}
    assert {"x.0", "x.1", "x.3", "x.4"} <= actions
    assert "x.2" not in actions  # the failed unit's writes were rolled back


def test_units_and_entries_share_a_group(engine: Engine) -> None:
    group = GroupCommit(engine)
    hold, entered = threading.Event(), threading.Event()
    results: dict[int, object] = {}
    errors: list[BaseException] = []
    first = unit_call(group, 0, results, hold=hold, entered=entered)
    assert entered.wait(10)
    entry = call(group, 1, errors)
    unit = unit_call(group, 2, results)
    queued(group, 2)
    hold.set()
    for t in (first, entry, unit):
        t.join(10)
    assert errors == [] and results == {0: 0, 2: 2}
    assert group.stats.groups == 2
    log = entries(engine)
    assert {"x.0", "x.1", "x.2"} <= {e["action"] for e in log}
    assert [e["seq"] for e in log] == list(range(len(log)))


# --- units submitted from coroutines (GroupCommit.submit) --------------------------------------


def async_unit(
    n: int,
    *,
    hold: threading.Event | None = None,
    entered: threading.Event | None = None,
    fail: bool = False,
) -> Callable[[Connection], int]:
    def unit(conn: Connection) -> int:
        record(conn, Event(actor="a", action=f"x.{n}"), at=AT + timedelta(seconds=n))
        if entered is not None:
            entered.set()
        if hold is not None:
            assert hold.wait(10)
        if fail:
            raise ValueError("this unit fails")
        return n

    return unit


async def submitted(group: GroupCommit, n: int, **kwargs: Any) -> object:
    """A request's coroutine: submit in its own context, await the outcome."""
    with recorded_via("api", f"req-{n}"):
        try:
            return await group.submit(async_unit(n, **kwargs))
        except Exception as exc:
            return exc


def test_submitted_units_share_the_writer_threads_transactions(engine: Engine) -> None:
    """Awaited on the loop, run by one writer thread: the first group holds its commit while
    five more requests are submitted; none is answered before its own commit, each gets its
    own result and its entry carries its own request id."""
    group = GroupCommit(engine)
    hold, entered = threading.Event(), threading.Event()
    loop_threads: set[int] = set()

    async def main() -> list[object]:
        loop_threads.add(threading.get_ident())
        first = asyncio.create_task(submitted(group, 0, hold=hold, entered=entered))
        await asyncio.to_thread(entered.wait, 10)
        others = [asyncio.create_task(submitted(group, n)) for n in range(1, 6)]
        await asyncio.sleep(0)  # each has submitted
        await asyncio.to_thread(queued, group, 5)
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in [first, *others])  # nobody before its commit
        hold.set()
        return list(await asyncio.gather(first, *others))

    try:
        assert asyncio.run(main()) == list(range(6))
        assert (group.stats.groups, group.stats.largest, group.stats.callers) == (2, 5, 6)
        assert group._writer is not None and group._writer.ident not in loop_threads
    finally:
        group.close()
    assert group._writer is not None and not group._writer.is_alive()  # stopped by close
    log = entries(engine)
    mine = {e["action"]: e for e in log if e["action"].startswith("x.")}
    for n in range(6):
        assert mine[f"x.{n}"]["details"]["via"]["request_id"] == f"req-{n}"
    assert all(a["prev"] == b["leaf"] for b, a in itertools.pairwise(log))


def test_a_failing_submitted_unit_fails_its_own_caller_only(engine: Engine) -> None:
    group = GroupCommit(engine)
    hold, entered = threading.Event(), threading.Event()

    async def main() -> list[object]:
        first = asyncio.create_task(submitted(group, 0, hold=hold, entered=entered))
        await asyncio.to_thread(entered.wait, 10)
        others = [asyncio.create_task(submitted(group, n, fail=n == 2)) for n in range(1, 5)]
        await asyncio.sleep(0)
        await asyncio.to_thread(queued, group, 4)
        hold.set()
        return list(await asyncio.gather(first, *others))

    try:
        results = asyncio.run(main())
    finally:
        group.close()
    assert isinstance(results.pop(2), ValueError)  # its own exception
    assert results == [0, 1, 3, 4]
    actions = {e["action"] for e in entries(engine)}
    assert {"x.0", "x.1", "x.3", "x.4"} <= actions and "x.2" not in actions


def test_submitted_units_and_blocked_callers_share_groups(engine: Engine) -> None:
    """A thread's `run` and a coroutine's `submit` queue in one line: one chain, both answered."""
    group = GroupCommit(engine)
    hold, entered = threading.Event(), threading.Event()
    results: dict[int, object] = {}
    first = unit_call(group, 0, results, hold=hold, entered=entered)
    assert entered.wait(10)

    async def main() -> object:
        task = asyncio.create_task(submitted(group, 1))
        await asyncio.sleep(0)
        blocked = unit_call(group, 2, results)
        await asyncio.to_thread(queued, group, 2)
        hold.set()
        got = await task
        await asyncio.to_thread(blocked.join, 10)
        return got

    try:
        assert asyncio.run(main()) == 1
        first.join(10)
    finally:
        group.close()
    assert results == {0: 0, 2: 2}
    log = entries(engine)
    assert {"x.0", "x.1", "x.2"} <= {e["action"] for e in log}
    assert [e["seq"] for e in log] == list(range(len(log)))


def test_a_closed_group_takes_no_more_units(engine: Engine) -> None:
    group = GroupCommit(engine)
    group.close()

    async def main() -> None:
        with pytest.raises(InstallationError, match="closed"):
            group.submit(async_unit(0))

    asyncio.run(main())


# --- a group's units' entries appended together (deferred_appends) ----------------------------


def test_deferred_entries_are_appended_at_the_end_in_order(engine: Engine) -> None:
    """What units record waits for the end of the block and goes in as one append, each entry
    with its own instant and its own caller's tag; reading the head flushes first, and so does
    a `record` without an instant (its entry stays after the ones recorded before it)."""
    log = AuditLog()
    with transaction(engine) as conn:
        size = log.head(conn).size
        with deferred_appends(conn):
            for n in range(3):
                with recorded_via("api", f"req-{n}"):
                    record(conn, Event(actor="a", action=f"d.{n}"), at=AT + timedelta(seconds=n))
            assert log.head(conn).size == size  # waiting
            flush_deferred(conn)
            assert log.head(conn).size == size + 3
            record(conn, Event(actor="a", action="d.3"), at=AT + timedelta(seconds=3))
            record(conn, Event(actor="a", action="now"))  # no instant: appended at once, after
            assert log.head(conn).size == size + 5
            record(conn, Event(actor="a", action="d.5"), at=AT + timedelta(seconds=5))
        assert log.head(conn).size == size + 6
        assert conn.info.get("retention.audit.deferred") is None
    mine = [e for e in entries(engine) if e["action"] in {"now"} or e["action"][:2] == "d."]
    assert [e["action"] for e in mine] == ["d.0", "d.1", "d.2", "d.3", "now", "d.5"]
    assert [e["details"].get("via", {}).get("request_id") for e in mine[:3]] == [
        "req-0",
        "req-1",
        "req-2",
    ]
    assert mine[1]["ts"].startswith("2026-12-01T12:00:01")
    log_rows = entries(engine)
    assert all(a["prev"] == b["leaf"] for b, a in itertools.pairwise(log_rows))
    assert [e["seq"] for e in log_rows] == list(range(len(log_rows)))


def test_nothing_deferred_is_appended_when_the_block_raises(engine: Engine) -> None:
    log = AuditLog()
    with transaction(engine) as conn:
        size = log.head(conn).size
        with pytest.raises(ValueError), deferred_appends(conn):
            record(conn, Event(actor="a", action="lost"), at=AT)
            raise ValueError("the unit failed")
        assert conn.info.get("retention.audit.deferred") is None
        assert log.head(conn).size == size
        record(conn, Event(actor="a", action="kept"), at=AT)  # appended at once again
        assert log.head(conn).size == size + 1
    assert "lost" not in {e["action"] for e in entries(engine)}
