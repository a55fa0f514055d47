"""The daily look at what lapses: grants and consents that expired or are about to.

Grants and consents stop counting by themselves at their expiry (the access decision and the
compiled policies both compare with the instant), so nothing has to be changed when they lapse.
What an operator and a DPO need is to see it coming and to have it on the record: this job counts
grants expired in the last day or expiring within 14 days, and consents expired in the last day or
expiring within 30 days, logs the counts and appends one `expiries.check` audit entry. Counts only:
no names, no subjects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Connection, and_, func, select

from audit_log import Event
from retention.clock import Clock, utc_now
from retention.store import Consent, Grant, record, table_of

__all__ = ["ExpiryCounts", "check_expiries"]


@dataclass(frozen=True)
class ExpiryCounts:
    grants_expired_last_day: int
    grants_expiring_14_days: int
    consents_expired_last_day: int
    consents_expiring_30_days: int


def check_expiries(conn: Connection, *, actor: str, clock: Clock = utc_now) -> ExpiryCounts:
    """Count what lapsed or will lapse, and audit the counts; never commits."""
    now = clock()
    g = table_of(Grant).c
    c = table_of(Consent).c
    live_grant = g.revoked_at.is_(None)
    live_consent = c.withdrawn_at.is_(None)

    def count(*where: ColumnElement[bool]) -> int:
        table = table_of(Grant) if where and "access_grant" in str(where[0]) else table_of(Consent)
        return conn.execute(
            select(func.count()).select_from(table).where(and_(*where))
        ).scalar_one()

    counts = ExpiryCounts(
        count(g.expires_at > now - timedelta(days=1), g.expires_at <= now, live_grant),
        count(g.expires_at > now, g.expires_at <= now + timedelta(days=14), live_grant),
        count(c.expires_at > now - timedelta(days=1), c.expires_at <= now, live_consent),
        count(c.expires_at > now, c.expires_at <= now + timedelta(days=30), live_consent),
    )
    record(conn, Event(actor=actor, action="expiries.check", details=asdict(counts)), at=now)
    return counts
