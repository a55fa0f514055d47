"""`/v1/reviews`: the review queue (candidate:erase), through `retention.operations` as
`gdpr review` does.

A rule that hands a subject to a person queues a review; the DPO decides it: anonymize, delete,
or keep until a date. The decision is audited with its reason by the operation, and the document
files it releases are removed after the commit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from retention.api.auth import PrincipalDep
from retention.api.listing import page_after
from retention.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from retention.api.problems import ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.operations import DecideReview, ListReviews, decide_review, list_reviews
from retention.store import ReviewDecision

__all__ = ["ReviewDecisionIn", "ReviewOut", "router"]

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


class ReviewDecisionIn(BaseModel):
    """The CLI's `review decide`: `keep` takes `keep_until` (a date, UTC), the others none."""

    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision
    reason: str = Field(min_length=1, max_length=1000, description="Why (audited).")
    keep_until: datetime | None = Field(
        default=None, description="Only with decision 'keep': until when (a future instant)."
    )

    @model_validator(mode="after")
    def _keep_until_with_keep(self) -> Self:
        if (self.decision is ReviewDecision.KEEP) != (self.keep_until is not None):
            raise ValueError("keep_until goes with decision 'keep', and only with it")
        if self.keep_until is not None and self.keep_until.tzinfo is None:
            self.keep_until = self.keep_until.replace(tzinfo=UTC)
        return self


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
    request = DecideReview(
        subject_id, body.decision, reason=body.reason, keep_until=body.keep_until
    )
    return ReviewOut.of(decide_review(installation, principal, request, clock=clock))
