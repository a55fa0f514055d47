"""What is due: open requests overdue or due within a window, for the scheduler's daily job.

No personal data: request ids, types, countries and deadlines only. One indexed range read of the
open requests by deadline (`ix_data_request_open_due`: closed_at IS NULL, due_at up to the window's
end), however many closed requests the register holds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select

from retention.store import DataRequest, RequestType, table_of

__all__ = ["DUE_WINDOW", "DueCounts", "DueItem", "DueList", "due_counts", "due_list", "due_query"]

DUE_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class DueItem:
    id: uuid.UUID
    type: str
    country: str
    status: str
    due_on: date
    due_at: datetime
    extended: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "country": self.country,
            "status": self.status,
            "due_on": self.due_on.isoformat(),
            "extended": self.extended,
        }


@dataclass(frozen=True)
class DueList:
    at: datetime
    overdue: tuple[DueItem, ...]
    due_soon: tuple[DueItem, ...]

    def counts(self) -> dict[str, int]:
        return {"requests_overdue": len(self.overdue), "requests_due_7d": len(self.due_soon)}


def due_query(at: datetime, within: timedelta = DUE_WINDOW) -> Any:
    t = table_of(DataRequest).c
    return (
        select(t.id, t.type, t.country, t.status, t.due_on, t.due_at, t.extended_at)
        .where(t.closed_at.is_(None), t.due_at <= at + within)
        .order_by(t.due_at)
    )


def due_list(conn: Connection, at: datetime, within: timedelta = DUE_WINDOW) -> DueList:
    """Open requests past their deadline at `at`, and those whose deadline ends within `within`."""
    overdue: list[DueItem] = []
    soon: list[DueItem] = []
    for r in conn.execute(due_query(at, within)):
        item = DueItem(
            r.id, r.type, r.country, r.status, r.due_on, r.due_at, r.extended_at is not None
        )
        (overdue if r.due_at <= at else soon).append(item)
    return DueList(at, tuple(overdue), tuple(soon))


@dataclass(frozen=True)
class DueCounts:
    """How many open requests of each type are overdue, and due within the window (gauges)."""

    overdue: dict[str, int]
    due_soon: dict[str, int]


def due_counts(conn: Connection, at: datetime, within: timedelta = DUE_WINDOW) -> DueCounts:
    """`due_list` counted by type in the database (for metrics scraped every few seconds): the
    same indexed range of open requests, a row per type back; every type present, 0 if none."""
    t = table_of(DataRequest).c
    late = func.coalesce(func.sum(case((t.due_at <= at, 1), else_=0)), 0)
    q = (
        select(t.type, late, func.count())
        .where(t.closed_at.is_(None), t.due_at <= at + within)
        .group_by(t.type)
    )
    overdue = dict.fromkeys((k.value for k in RequestType), 0)
    soon = dict(overdue)
    for kind, n_late, n_all in conn.execute(q):
        overdue[str(kind)] = int(n_late)
        soon[str(kind)] = int(n_all) - int(n_late)
    return DueCounts(overdue, soon)
