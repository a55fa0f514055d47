"""Legal holds as a front end asks for them: place, release, list (hold:manage).

Each operation authorizes inside its own transaction with `retention.access.guard`, so a denial is
audited and leaves no change, and an allowed action commits together with its audit entries. A
hold on one subject is authorized for that subject's country; listing needs every country.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlmodel import col

from retention.access import Permission, PrincipalView, guarded, require
from retention.clock import Clock, utc_now
from retention.install import Installation
from retention.store import Candidate
from retention.sweep import holds

__all__ = ["ListHolds", "PlaceHold", "ReleaseHold", "list_holds", "place_hold", "release_hold"]

Hold = holds.Hold


@dataclass(frozen=True)
class PlaceHold:
    subject_id: uuid.UUID
    case_ref: str
    reason: str


@dataclass(frozen=True)
class ReleaseHold:
    hold_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class ListHolds:
    include_released: bool = False


def _country(conn: Connection, subject_id: uuid.UUID) -> str | None:
    q = select(col(Candidate.country)).where(col(Candidate.id) == subject_id)
    return conn.execute(q).scalar_one_or_none()


def place_hold(
    installation: Installation,
    principal: PrincipalView,
    request: PlaceHold,
    *,
    clock: Clock = utc_now,
) -> Hold:
    """Suspend every retention action on the subject until the hold is released."""

    def work(conn: Connection) -> Hold:
        require(
            conn,
            principal.id,
            Permission.HOLD_MANAGE,
            at=clock(),
            action="hold.place",
            country=_country(conn, request.subject_id),
            subject=request.subject_id,
        )
        return holds.place_hold(
            conn,
            request.subject_id,
            case_ref=request.case_ref,
            reason=request.reason,
            actor=str(principal.id),
            clock=clock,
        )

    return guarded(installation.engine, work)


def release_hold(
    installation: Installation,
    principal: PrincipalView,
    request: ReleaseHold,
    *,
    clock: Clock = utc_now,
) -> Hold:
    """Release a hold; its subject is eligible again at the next sweep."""

    def work(conn: Connection) -> Hold:
        subject = next(
            (
                h.subject_id
                for h in holds.list_holds(conn, include_released=True)
                if h.id == request.hold_id
            ),
            None,
        )
        require(
            conn,
            principal.id,
            Permission.HOLD_MANAGE,
            at=clock(),
            action="hold.release",
            country=_country(conn, subject) if subject else None,
            subject=subject,
        )
        return holds.release_hold(
            conn, request.hold_id, reason=request.reason, actor=str(principal.id), clock=clock
        )

    return guarded(installation.engine, work)


def list_holds(
    installation: Installation,
    principal: PrincipalView,
    request: ListHolds,
    *,
    clock: Clock = utc_now,
) -> list[Hold]:
    """Holds, newest first; active ones only unless `include_released`."""

    def work(conn: Connection) -> list[Hold]:
        require(conn, principal.id, Permission.HOLD_MANAGE, at=clock(), action="hold.list")
        return list(holds.list_holds(conn, include_released=request.include_released))

    return guarded(installation.engine, work)
