"""`/v1/holds`: legal holds (hold:manage), through `retention.operations` as `gdpr hold` does.

A hold suspends every retention action on a subject until it is released. Placing and
releasing are audited by the operation with the reason given in the body (a case's wording, never
personal data: the engine refuses e-mail addresses and phone numbers in it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from retention.api.auth import PrincipalDep
from retention.api.listing import page_after
from retention.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from retention.api.problems import ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.operations import (
    ListHolds,
    PlaceHold,
    ReleaseHold,
    list_holds,
    place_hold,
    release_hold,
)

__all__ = ["HoldOut", "HoldPlacement", "HoldRelease", "router"]

router = APIRouter(prefix="/holds", tags=["holds"])


class HoldOut(BaseModel):
    """A legal hold; `active` until released."""

    id: uuid.UUID
    subject_id: uuid.UUID
    case_ref: str
    reason: str
    placed_by: str
    placed_at: datetime
    active: bool
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None

    @classmethod
    def of(cls, hold: Any) -> HoldOut:
        return cls(
            id=hold.id,
            subject_id=hold.subject_id,
            case_ref=hold.case_ref,
            reason=hold.reason,
            placed_by=hold.placed_by,
            placed_at=hold.placed_at,
            active=hold.active,
            released_at=hold.released_at,
            released_by=hold.released_by,
            release_reason=hold.release_reason,
        )


class HoldPlacement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: uuid.UUID
    case_ref: str = Field(min_length=1, max_length=200, description="Case or matter reference.")
    reason: str = Field(min_length=1, max_length=1000, description="Why (audited).")


class HoldRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="Why (audited).")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Place a legal hold on a subject (hold:manage; audited)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def place(
    body: HoldPlacement,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> HoldOut:
    """Suspend every retention action on the subject until the hold is released."""
    request = PlaceHold(body.subject_id, case_ref=body.case_ref, reason=body.reason)
    return HoldOut.of(place_hold(installation, principal, request, clock=clock))


@router.post(
    "/{hold_id}/release",
    summary="Release a legal hold (hold:manage; audited)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def release(
    hold_id: uuid.UUID,
    body: HoldRelease,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> HoldOut:
    """The subject is eligible again at the next sweep. Releasing twice is 400."""
    request = ReleaseHold(hold_id, reason=body.reason)
    return HoldOut.of(release_hold(installation, principal, request, clock=clock))


@router.get(
    "",
    summary="List legal holds, newest first (hold:manage in every country)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
)
def list_(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    include_released: bool = Query(False, description="Released holds too."),
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[HoldOut]:
    found = list_holds(installation, principal, ListHolds(include_released), clock=clock)
    return page_after([HoldOut.of(h) for h in found], limit, cursor, lambda h: str(h.id))
