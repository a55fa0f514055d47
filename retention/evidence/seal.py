"""The export's one write transaction: record the export, sign a checkpoint, fix the period, prove it.

Everything that must be true of one instant happens here, in the caller's transaction: the
`evidence.export` entry is appended (an export is itself evidence), a checkpoint of the head that
now includes it is signed and stored, the period's seq range is read, and the proofs are taken
against that checkpoint: inclusion of the period's first and last entries, and consistency from
the checkpoint that was current when the period began. Later reads can then run outside any
write lock, because entries below the checkpoint's size never change.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from audit_log import AuditLog, Checkpoint, Event, Signer, format_ts
from retention.clock import Clock
from retention.evidence.pack import PackPeriod
from retention.store import record

__all__ = ["EXPORT_ACTION", "SealRequest", "Sealed", "period_bounds", "seal_period"]

EXPORT_ACTION = "evidence.export"


@dataclass(frozen=True, slots=True)
class SealRequest:
    """What the export entry records: the period asked for, by whom."""

    start: date
    end: date
    country: str | None
    actor: str
    zip: bool = False


@dataclass(frozen=True)
class Sealed:
    """What the export transaction fixed: the range, the checkpoint and the proofs."""

    period: PackPeriod
    checkpoint: Checkpoint
    checkpoint_note: str
    proofs: dict[str, Any]


def period_bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[first day 00:00, day after the last 00:00) in `zone`, as UTC instants."""
    lo = datetime.combine(start, time(), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    return lo, hi


def seal_period(
    conn: Connection,
    *,
    log_origin: str,
    timezone: str,
    request: SealRequest,
    bounds: tuple[datetime, datetime],
    signer: Signer,
    clock: Clock,
    authorize: Callable[[Connection], object] | None = None,
) -> Sealed:
    """Run in the export's transaction; see the module docstring. Never commits."""
    if authorize is not None:
        authorize(conn)
    log = AuditLog(clock)
    details = {
        "from": request.start.isoformat(),
        "to": request.end.isoformat(),
        "country": request.country,
        "zip": request.zip,
    }
    record(conn, Event(request.actor, EXPORT_ACTION, details=details), at=clock())
    checkpoint, note = log.sign_checkpoint(conn, signer, log_origin)
    start, end = bounds
    first, last = log.seq_range(conn, start, end) or (None, None)
    period = PackPeriod(
        start_date=request.start.isoformat(),
        end_date=request.end.isoformat(),
        timezone=timezone,
        start=format_ts(start),
        end=format_ts(end),
        country=request.country,
        first_seq=first,
        last_seq=last,
        prior_seq=None if first is None or first == 0 else first - 1,
    )
    proofs: dict[str, Any] = {
        "checkpoint": {"size": checkpoint.size, "root": _b64(checkpoint.root)},
        "inclusion": None,
        "consistency": None,
    }
    if first is not None and last is not None:
        proofs["inclusion"] = {
            "first": log.inclusion_proof(conn, first, checkpoint.size).to_json(),
            "last": log.inclusion_proof(conn, last, checkpoint.size).to_json(),
        }
    before = log.checkpoint_at(conn, start)
    if before is not None and before[1] > 0:
        note_before, size_before = before
        proofs["consistency"] = {
            "from_checkpoint": note_before,
            "proof": log.consistency_proof(conn, size_before, checkpoint.size).to_json(),
        }
    else:
        proofs["consistency_note"] = "no checkpoint of a non-empty log was signed before the period"
    return Sealed(period, checkpoint, note, proofs)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
