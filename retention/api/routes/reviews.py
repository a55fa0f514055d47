"""`/v1/reviews`: the review queue (candidate:erase), through `retention.operations` as
`gdpr review` does.

A rule that hands a subject to a person queues a review; the DPO decides it: anonymize, delete,
or keep until a date. The decision is audited with its reason by the operation, and the document
files it releases are removed after the commit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from retention.api.auth import PrincipalDep
from retention.api.listing import page_after
from retention.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from retention.api.problems import ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.operations import DecideReview, ListReviews, decide_review, list_reviews
from retention.store import ReviewDecision

__all__ = ["ActDecision", "KeepDecision", "ReviewDecisionIn", "ReviewOut", "router"]

router = APIRouter(prefix="/reviews", tags=["reviews"])


class ReviewOut(BaseModel):
    """One review item: open until decided."""

    id: uuid.UUID
    subject_id: uuid.UUID
    country: str
    policy: str
    rule: str
    cite: str | None
    queued_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision: ReviewDecision | None
    keep_until: datetime | None

    @classmethod
    def of(cls, view: Any) -> ReviewOut:
        return cls(
            id=view.id,
            subject_id=view.subject_id,
            country=view.country,
            policy=view.policy,
            rule=view.rule,
            cite=view.cite,
            queued_at=view.queued_at,
            decided_at=view.decided_at,
            decided_by=view.decided_by,
            decision=view.decision,
            keep_until=view.keep_until,
        )


class KeepDecision(BaseModel):
    """Keep the subject until a date (a future instant; a date alone is midnight UTC)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["keep"]
    reason: str = Field(min_length=1, max_length=1000, description="Why (audited).")
    keep_until: datetime

    @field_validator("keep_until")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ActDecision(BaseModel):
    """Anonymize or delete the subject now."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["anonymize", "delete"]
    reason: str = Field(min_length=1, max_length=1000, description="Why (audited).")


ReviewDecisionIn = Annotated[KeepDecision | ActDecision, Field(discriminator="decision")]


@router.get(
    "",
    summary="List review items, oldest first (candidate:erase in every country)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
)
def list_(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    include_decided: bool = Query(False, description="Decided items too."),
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[ReviewOut]:
    found = list_reviews(installation, principal, ListReviews(include_decided), clock=clock)
    return page_after([ReviewOut.of(v) for v in found], limit, cursor, lambda r: str(r.id))


@router.post(
    "/{subject_id}/decision",
    summary="Decide the open review of a subject (candidate:erase; audited)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def decide(
    subject_id: uuid.UUID,
    body: ReviewDecisionIn,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> ReviewOut:
    """Anonymize, delete, or keep the subject until a date; 404 when no review is open."""
    keep_until = body.keep_until if isinstance(body, KeepDecision) else None
    decision = ReviewDecision(body.decision)
    request = DecideReview(subject_id, decision, reason=body.reason, keep_until=keep_until)
    return ReviewOut.of(decide_review(installation, principal, request, clock=clock))
