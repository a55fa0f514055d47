"""How far the engine's actions have reached the other systems: per target, now and per period.

`target_status` is `gdpr integration status`: the outbox's messages per target and state, and
the oldest one still waiting. `propagation` is the evidence pack's `propagation.csv` and report
section: for a period, the confirmations (`integration.delivered`) and dead letters
(`integration.dead`) the audit log holds per target, counted from the audit entries themselves
so that the figures match the log line for line, next to what is still pending when the pack is
made and since when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from audit_log import metadata as audit_metadata
from retention.config import Integration
from retention.results import JSONData, rfc3339
from retention.store import MessageState, OutboxMessage, table_of

__all__ = ["PROPAGATION_HEADER", "Propagation", "TargetStatus", "propagation", "target_status"]

_outbox = table_of(OutboxMessage)
audit_entry = audit_metadata.tables["audit_entry"]
PROPAGATION_HEADER = (
    "target",
    "kind",
    "written",
    "delivered",
    "dead",
    "pending",
    "oldest_pending",
)


@dataclass(frozen=True)
class TargetStatus:
    target: str
    kind: str
    pending: int = 0
    failed: int = 0
    delivered: int = 0
    dead: int = 0
    oldest_pending: datetime | None = None

    def to_json(self) -> JSONData:
        return {
            "target": self.target,
            "kind": self.kind,
            "pending": self.pending,
            "failed": self.failed,
            "delivered": self.delivered,
            "dead": self.dead,
            "oldest_pending": rfc3339(self.oldest_pending) if self.oldest_pending else None,
        }


def target_status(conn: Connection, targets: Sequence[Integration]) -> list[TargetStatus]:
    """Messages per state of each configured target (and of any no longer configured)."""
    o = _outbox.c
    counts: dict[str, dict[str, int]] = {}
    for target, state, n in conn.execute(
        select(o.target, o.state, func.count()).group_by(o.target, o.state)
    ):
        counts.setdefault(target, {})[state] = n
    oldest = dict(
        conn.execute(
            select(o.target, func.min(o.created_at))
            .where(o.state.in_([MessageState.PENDING.value, MessageState.FAILED.value]))
            .group_by(o.target)
        ).all()
    )
    kinds = {t.name: t.kind.value for t in targets}
    out = []
    for name in sorted(set(kinds) | set(counts)):
        c = counts.get(name, {})
        out.append(
            TargetStatus(
                name,
                kinds.get(name, "(not configured)"),
                pending=c.get(MessageState.PENDING.value, 0),
                failed=c.get(MessageState.FAILED.value, 0),
                delivered=c.get(MessageState.DELIVERED.value, 0),
                dead=c.get(MessageState.DEAD.value, 0),
                oldest_pending=oldest.get(name),
            )
        )
    return out


@dataclass(frozen=True)
class Propagation:
    """One target's line of propagation.csv."""

    target: str
    kind: str
    written: int  # messages written in the period (actions the target was to be told)
    delivered: int  # integration.delivered entries of the period
    dead: int  # integration.dead entries of the period
    pending: int  # waiting (pending or failed) when the pack was made
    oldest_pending: datetime | None

    def row(self) -> list[object]:
        oldest = rfc3339(self.oldest_pending) if self.oldest_pending else ""
        return [
            self.target,
            self.kind,
            self.written,
            self.delivered,
            self.dead,
            self.pending,
            oldest,
        ]


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def propagation(
    conn: Connection, targets: Sequence[Integration], start: datetime, end: datetime
) -> list[Propagation]:
    """Per target, for the period [start, end): see the module docstring."""
    e = audit_entry.c
    per_entry: dict[tuple[str, str], int] = {}
    for actor, action, n in conn.execute(
        select(e.actor, e.action, func.count())
        .where(
            e.action.in_(["integration.delivered", "integration.dead"]),
            e.ts >= _naive(start),
            e.ts < _naive(end),
        )
        .group_by(e.actor, e.action)
    ):
        per_entry[(actor.removeprefix("integration:"), action)] = n
    o = _outbox.c
    written: dict[str, int] = dict(
        conn.execute(
            select(o.target, func.count())
            .where(o.created_at >= start, o.created_at < end)
            .group_by(o.target)
        ).all()
    )
    status = {s.target: s for s in target_status(conn, targets)}
    names = sorted(set(status) | {t for t, _ in per_entry})
    return [
        Propagation(
            name,
            status[name].kind if name in status else "(not configured)",
            int(written.get(name, 0)),
            per_entry.get((name, "integration.delivered"), 0),
            per_entry.get((name, "integration.dead"), 0),
            (status[name].pending + status[name].failed) if name in status else 0,
            status[name].oldest_pending if name in status else None,
        )
        for name in names
    ]
