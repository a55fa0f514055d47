"""The review queue as a front end asks for it: list the items, decide one (candidate:erase).

A decision runs in one guarded transaction with its audit entry; document files it releases (a
delete or an anonymization) are unlinked only after that commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlmodel import col

from retention.access import Permission, PrincipalView, guarded, require
from retention.clock import Clock, utc_now
from retention.install import Installation
from retention.store import Candidate, ReviewDecision, remove_pending, scrub_erased
from retention.sweep import review_queue

__all__ = ["DecideReview", "ListReviews", "decide_review", "list_reviews"]

ReviewView = review_queue.ReviewView


@dataclass(frozen=True)
class ListReviews:
    include_decided: bool = False


@dataclass(frozen=True)
class DecideReview:
    subject_id: uuid.UUID
    decision: ReviewDecision
    reason: str
    keep_until: datetime | None = None


def list_reviews(
    installation: Installation,
    principal: PrincipalView,
    request: ListReviews,
    *,
    clock: Clock = utc_now,
) -> list[ReviewView]:
    """Open review items, oldest first (decided ones too with `include_decided`)."""

    def work(conn: Connection) -> list[ReviewView]:
        require(conn, principal.id, Permission.CANDIDATE_ERASE, at=clock(), action="review.list")
        return review_queue.list_reviews(conn, include_decided=request.include_decided)

    return guarded(installation.engine, work)


def decide_review(
    installation: Installation,
    principal: PrincipalView,
    request: DecideReview,
    *,
    clock: Clock = utc_now,
) -> ReviewView:
    """Decide the subject's open review: anonymize, delete, or keep until a date."""

    def work(conn: Connection) -> ReviewView:
        country = conn.execute(
            select(col(Candidate.country)).where(col(Candidate.id) == request.subject_id)
        ).scalar_one_or_none()
        require(
            conn,
            principal.id,
            Permission.CANDIDATE_ERASE,
            at=clock(),
            action="review.decide",
            country=country,
            subject=request.subject_id,
        )
        return review_queue.decide(
            conn,
            request.subject_id,
            request.decision,
            reason=request.reason,
            actor=str(principal.id),
            keep_until=request.keep_until,
            clock=clock,
        )

    result = guarded(installation.engine, work)
    remove_pending(installation.engine, installation.config.documents_dir)
    if request.decision is not ReviewDecision.KEEP:
        scrub_erased(installation.engine)
    return result
