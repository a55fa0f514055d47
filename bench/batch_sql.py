"""What a sweep batch spends its time on, statement by statement, for the sweep benchmarks.

`StatementTimes` times every statement SQLAlchemy sends on an engine (both sweep workers'),
grouped by kind: the verb and table of a DML statement, `decision` for the compiled policy
SELECT; the audit entries' COPY goes through the driver and shows in the batch's `audit_s`.
On SQLite a SELECT's rows are stepped through after the statement's timer stops (the driver runs
it lazily, as rows are fetched): its time shows in the batch's step (`decide_s`), not its kind.
`BatchLog` collects the sweep's own per-batch step timings (its `sweep.batch` log events).
`Explain` runs `EXPLAIN (ANALYZE, BUFFERS)` of every batch statement on PostgreSQL inside a
savepoint that it then rolls back, just before the statement itself runs: the plans are those
of the real statements, on the real batch, with the data as the statement finds it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from sqlalchemy import Engine, event

__all__ = ["BatchLog", "Explain", "StatementTimes", "kind_of"]

_DML = re.compile(
    r"^\s*(?:WITH\b.*?\)\s*)?(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\S+)", re.I | re.S
)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.I)
# The compiled policy SELECT is hundreds of kilobytes; nothing else comes near.
_DECISION_MIN_CHARS = 20_000


def kind_of(statement: str) -> str:
    """A short name for a statement: `update application`, `select candidate`, `decision`."""
    if len(statement) >= _DECISION_MIN_CHARS:
        # The run's selection fills its work list from the same compiled SQL.
        return "selection" if statement.lstrip()[:6].upper() == "INSERT" else "decision"
    m = _DML.match(statement)
    if m is None:
        return statement.split(None, 1)[0].lower() if statement.strip() else "?"
    verb = m.group(1).split()[0].lower()
    table = m.group(2).lower()
    if verb == "select":
        f = _FROM.search(statement)
        table = f.group(1).lower() if f else table
    return f"{verb} {table}"


class StatementTimes:
    """Seconds and calls per statement kind, on every connection of an engine."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def on(self, engine: Engine) -> Iterator[StatementTimes]:
        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            self._local.t = time.perf_counter()

        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            spent = time.perf_counter() - self._local.t
            kind = kind_of(statement)
            with self._lock:
                self.seconds[kind] += spent
                self.calls[kind] += 1

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)


class BatchLog:
    """The `sweep.batch` events of the runs swept while `capture()` is active."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @contextmanager
    def capture(self) -> Iterator[BatchLog]:
        def keep(_logger: Any, _method: str, ev: MutableMapping[str, Any]) -> Any:
            if ev.get("event") == "sweep.batch":
                with self._lock:
                    self.batches.append(dict(ev))
            raise structlog.DropEvent

        previous = structlog.get_config()
        structlog.configure(processors=[keep], cache_logger_on_first_use=False)
        try:
            yield self
        finally:
            structlog.configure(**previous)

    def step_seconds(self) -> dict[str, float]:
        """Seconds per step summed over the batches (fetch_lock_s, decide_s, act_s, ...)."""
        out: dict[str, float] = defaultdict(float)
        for b in self.batches:
            for k, v in b.items():
                if k.endswith("_s"):
                    out[k] += v
        return dict(out)


class Explain:
    """`EXPLAIN (ANALYZE, BUFFERS)` of each batch statement (PostgreSQL), in a savepoint.

    Only statements of kinds in `kinds` (or all DML when None) and only the first `per_kind` of
    each are explained, so a long sweep is not slowed throughout.
    """

    def __init__(self, kinds: set[str] | None = None, per_kind: int = 1) -> None:
        self.kinds = kinds
        self.per_kind = per_kind
        self.plans: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    @contextmanager
    def on(self, engine: Engine) -> Iterator[Explain]:
        def before(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            if many or conn.dialect.name != "postgresql":
                return
            kind = kind_of(statement)
            if kind.split()[0] not in (
                "decision",
                "selection",
                "select",
                "update",
                "delete",
                "insert",
            ):
                return
            if self.kinds is not None and kind not in self.kinds:
                return
            with self._lock:
                if len(self.plans[kind]) >= self.per_kind:
                    return
                self.plans[kind].append("")  # reserve the slot
                slot = len(self.plans[kind]) - 1
            cursor.execute("SAVEPOINT bench_explain")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("ROLLBACK TO SAVEPOINT bench_explain")
            with self._lock:
                self.plans[kind][slot] = plan

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", before)
