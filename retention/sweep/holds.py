"""Legal holds: a DPO suspends every retention action on a subject while a case runs.

A hold is placed and released, never edited or deleted, so its record (UUID, case reference, who,
when, why) stays for the evidence. The sweep excludes held subjects with `active_hold_exists`, one
correlated EXISTS in the same set-based SELECT that finds due subjects. Placing a hold locks the
subject's row (PostgreSQL; SQLite serializes writers with BEGIN IMMEDIATE), so a hold and a sweep
batch racing on one subject are ordered: either the batch acted first, or it sees the hold.
Functions here run inside the caller's transaction and append their audit entry to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, insert, literal, select, update

from audit_log import Event
from retention.clock import Clock, utc_now
from retention.errors import BadInput, NotFound
from retention.results import rfc3339
from retention.store import Candidate, LegalHold, check_reason, exists_per_row, record, table_of

__all__ = [
    "Hold",
    "active_hold_exists",
    "list_holds",
    "place_hold",
    "release_hold",
]

_holds = table_of(LegalHold)
_candidates = table_of(Candidate)


@dataclass(frozen=True)
class Hold:
    id: uuid.UUID
    subject_id: uuid.UUID
    case_ref: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def to_json(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "subject": str(self.subject_id),
            "case": self.case_ref,
            "reason": self.reason,
            "placed_by": self.placed_by,
            "placed_at": rfc3339(self.placed_at),
            "active": self.active,
            "released_at": rfc3339(self.released_at) if self.released_at else None,
            "released_by": self.released_by,
            "release_reason": self.release_reason,
        }


def active_hold_exists(
    subject_id: ColumnElement[uuid.UUID], *, probe: bool = False
) -> ColumnElement[bool]:
    """SQL: the subject in `subject_id` has at least one hold not yet released (`probe`: see
    `exists_per_row`)."""
    found = select(literal(1)).where(
        _holds.c.subject_id == subject_id, _holds.c.released_at.is_(None)
    )
    return exists_per_row(found, probe=probe)


def _text_arg(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise BadInput(f"{what} must be between 1 and {limit} characters")
    return value


def place_hold(
    conn: Connection,
    subject_id: uuid.UUID,
    *,
    case_ref: str,
    reason: str,
    actor: str,
    clock: Clock = utc_now,
) -> Hold:
    """Place a hold on an existing subject and audit it (`hold.place`).

    Refuses a second active hold for the same case on the subject (another case is fine).
    """
    case_ref = _text_arg(case_ref, "the case reference", 200)
    reason = check_reason(_text_arg(reason, "the reason", 1000))
    # Lock the subject so a sweep batch working on it finishes (or has not started) first.
    q = select(_candidates.c.id).where(_candidates.c.id == subject_id).with_for_update()
    if conn.execute(q).first() is None:
        raise NotFound(f"no subject {subject_id}")
    # One active hold per subject and case: a second would need a second release to lift it,
    # and the evidence would show two holds for one case.
    same = conn.execute(
        select(_holds.c.id).where(
            _holds.c.subject_id == subject_id,
            _holds.c.case_ref == case_ref,
            _holds.c.released_at.is_(None),
        )
    ).first()
    if same is not None:
        raise BadInput(f"subject {subject_id} already has an active hold for this case ({same.id})")
    hold = Hold(uuid.uuid4(), subject_id, case_ref, reason, actor, clock())
    conn.execute(
        insert(_holds).values(
            id=hold.id,
            subject_id=subject_id,
            case_ref=case_ref,
            reason=reason,
            placed_by=actor,
            placed_at=hold.placed_at,
        )
    )
    event = Event(
        actor=actor,
        action="hold.place",
        subject=subject_id,
        reason=reason,
        details={"hold": str(hold.id), "case": case_ref},
    )
    record(conn, event, at=clock())
    return hold


def release_hold(
    conn: Connection, hold_id: uuid.UUID, *, reason: str, actor: str, clock: Clock = utc_now
) -> Hold:
    """Release an active hold and audit it (`hold.release`); the subject may become due again."""
    reason = check_reason(_text_arg(reason, "the reason", 1000))
    row = conn.execute(select(_holds).where(_holds.c.id == hold_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"no legal hold {hold_id}")
    if row.released_at is not None:
        raise BadInput(f"legal hold {hold_id} was already released")
    at = clock()
    conn.execute(
        update(_holds)
        .where(_holds.c.id == hold_id)
        .values(released_at=at, released_by=actor, release_reason=reason)
    )
    event = Event(
        actor=actor,
        action="hold.release",
        subject=row.subject_id,
        reason=reason,
        details={"hold": str(hold_id), "case": row.case_ref},
    )
    record(conn, event, at=clock())
    return replace(_hold(row), released_at=at, released_by=actor, release_reason=reason)


def list_holds(
    conn: Connection, *, subject_id: uuid.UUID | None = None, include_released: bool = False
) -> Sequence[Hold]:
    """Holds, newest first: active ones only unless `include_released`."""
    q = select(_holds).order_by(_holds.c.placed_at.desc(), _holds.c.id)
    if subject_id is not None:
        q = q.where(_holds.c.subject_id == subject_id)
    if not include_released:
        q = q.where(_holds.c.released_at.is_(None))
    return [_hold(row) for row in conn.execute(q)]


def _hold(row: Row[Any]) -> Hold:
    return Hold(
        row.id,
        row.subject_id,
        row.case_ref,
        row.reason,
        row.placed_by,
        row.placed_at,
        row.released_at,
        row.released_by,
        row.release_reason,
    )
