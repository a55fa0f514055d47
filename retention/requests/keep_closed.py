"""The register's own retention: a closed request is deleted `[requests] keep_closed` after it
closed (default three years, the limitation period a controller answers complaints within).

Run by the nightly sweep, set-based: one statement finds the expired requests, one appends their
audit entries (`request.expire`, on the subject's trail), two delete their events and rows. The
audit log keeps what each request was (its entries carry no contact details), so the evidence of
an answer outlives the register's copy of the requester's contact and identity check.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from audit_log import Event
from retention.config import Config
from retention.durations import add_months, parse_duration
from retention.store import DataRequest, RequestEvent, among, record, table_of

__all__ = ["expire_closed", "keep_closed_cutoff"]


def keep_closed_cutoff(config: Config, at: datetime) -> datetime:
    """Requests closed at or before this instant are past their retention at `at`."""
    keep = parse_duration(config.requests.keep_closed, "[requests] keep_closed")
    return add_months(at, -keep.months) - timedelta(days=keep.days)


def expire_closed(conn: Connection, config: Config, actor: str, at: datetime) -> int:
    """Delete the requests closed before the cutoff, in the caller's transaction; how many."""
    t = table_of(DataRequest).c
    cutoff = keep_closed_cutoff(config, at)
    rows = conn.execute(
        select(t.id, t.subject_id, t.type, t.closed_at).where(
            t.closed_at.is_not(None), t.closed_at <= cutoff
        )
    ).all()
    if not rows:
        return 0
    events = [
        Event(
            actor=actor,
            action="request.expire",
            subject=r.subject_id,
            reason=f"[requests] keep_closed {config.requests.keep_closed} after closure",
            details={"request": str(r.id), "type": r.type, "closed_at": r.closed_at},
        )
        for r in rows
    ]
    record(conn, *events, at=at)
    ids = [r.id for r in rows]
    conn.execute(
        delete(table_of(RequestEvent)).where(among(conn, table_of(RequestEvent).c.request_id, ids))
    )
    conn.execute(delete(table_of(DataRequest)).where(among(conn, t.id, ids)))
    return len(rows)
