"""Authorized entry points of holds, reviews and sweeps: what the CLI and the scheduler call.

Each function authenticates nothing (the caller passes the principal) but authorizes inside its
own transaction with `retention.access.guard`, so a denial is audited and leaves no change, and an allowed
action commits together with its audit entries. Document files released by an action are unlinked
after that commit. The domain modules (`holds`, `review`, `plan`, `sweep`) stay free of access
control and are what tests and other modules compose.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

from sqlalchemy import Connection, select

from retention.access import Permission, guarded, require
from retention.clock import Clock, utc_now
from retention.install import Installation, load_installation_policies
from retention.store import Candidate, ReviewDecision, remove_pending, scrub_erased
from retention.sweep import Plan, Progress, SweepResult, holds, make_plan, run_sweep
from retention.sweep import review_queue as review

__all__ = [
    "decide_review",
    "list_holds",
    "list_reviews",
    "place_hold",
    "plan_sweep",
    "release_hold",
    "sweep",
]

_candidates = Candidate.__table__


def _country(conn: Connection, subject_id: uuid.UUID) -> str | None:
    q = select(_candidates.c.country).where(_candidates.c.id == subject_id)
    return conn.execute(q).scalar_one_or_none()


def place_hold(
    installation: Installation,
    principal: uuid.UUID,
    subject_id: uuid.UUID,
    *,
    case_ref: str,
    reason: str,
    clock: Clock = utc_now,
) -> holds.Hold:
    def work(conn: Connection) -> holds.Hold:
        at = clock()
        country = _country(conn, subject_id)
        require(
            conn,
            principal,
            Permission.HOLD_MANAGE,
            at=at,
            action="hold.place",
            country=country,
            subject=subject_id,
        )
        return holds.place_hold(
            conn, subject_id, case_ref=case_ref, reason=reason, actor=str(principal), clock=clock
        )

    return guarded(installation.engine, work)


def release_hold(
    installation: Installation,
    principal: uuid.UUID,
    hold_id: uuid.UUID,
    *,
    reason: str,
    clock: Clock = utc_now,
) -> holds.Hold:
    def work(conn: Connection) -> holds.Hold:
        subject = next(
            (
                h.subject_id
                for h in holds.list_holds(conn, include_released=True)
                if h.id == hold_id
            ),
            None,
        )
        require(
            conn,
            principal,
            Permission.HOLD_MANAGE,
            at=clock(),
            action="hold.release",
            country=_country(conn, subject) if subject else None,
            subject=subject,
        )
        return holds.release_hold(conn, hold_id, reason=reason, actor=str(principal), clock=clock)

    return guarded(installation.engine, work)


def list_holds(
    installation: Installation,
    principal: uuid.UUID,
    *,
    include_released: bool = False,
    clock: Clock = utc_now,
) -> list[holds.Hold]:
    def work(conn: Connection) -> list[holds.Hold]:
        require(conn, principal, Permission.HOLD_MANAGE, at=clock(), action="hold.list")
        return list(holds.list_holds(conn, include_released=include_released))

    return guarded(installation.engine, work)


def list_reviews(
    installation: Installation,
    principal: uuid.UUID,
    *,
    include_decided: bool = False,
    clock: Clock = utc_now,
) -> list[review.ReviewView]:
    def work(conn: Connection) -> list[review.ReviewView]:
        require(conn, principal, Permission.CANDIDATE_ERASE, at=clock(), action="review.list")
        return review.list_reviews(conn, include_decided=include_decided)

    return guarded(installation.engine, work)


def decide_review(
    installation: Installation,
    principal: uuid.UUID,
    subject_id: uuid.UUID,
    decision: ReviewDecision,
    *,
    reason: str,
    keep_until: datetime | None = None,
    clock: Clock = utc_now,
) -> review.ReviewView:
    def work(conn: Connection) -> review.ReviewView:
        require(
            conn,
            principal,
            Permission.CANDIDATE_ERASE,
            at=clock(),
            action="review.decide",
            country=_country(conn, subject_id),
            subject=subject_id,
        )
        return review.decide(
            conn,
            subject_id,
            decision,
            reason=reason,
            actor=str(principal),
            keep_until=keep_until,
            clock=clock,
        )

    result = guarded(installation.engine, work)
    remove_pending(installation.engine, installation.config.documents_dir)
    if decision is not ReviewDecision.KEEP:
        scrub_erased(installation.engine)
    return result


def plan_sweep(
    installation: Installation,
    principal: uuid.UUID,
    *,
    at: datetime | None = None,
    country: str | None = None,
    clock: Clock = utc_now,
) -> Plan:
    policy_set = load_installation_policies(installation.config)

    def work(conn: Connection) -> Plan:
        now = clock()
        require(
            conn, principal, Permission.SWEEP_PLAN, at=now, action="sweep.plan", country=country
        )
        return make_plan(
            conn, policy_set, at=at or now, actor=str(principal), country=country, clock=clock
        )

    return guarded(installation.engine, work)


def sweep(
    installation: Installation,
    principal: uuid.UUID,
    *,
    at: datetime | None = None,
    country: str | None = None,
    limit: int | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    clock: Clock = utc_now,
) -> SweepResult:
    """Authorize sweep:run (for `country`, or every country), then run the sweep."""
    policy_set = load_installation_policies(installation.config)

    def work(conn: Connection) -> None:
        require(
            conn, principal, Permission.SWEEP_RUN, at=clock(), action="sweep.run", country=country
        )

    guarded(installation.engine, work)
    return run_sweep(
        installation,
        policy_set,
        actor=str(principal),
        at=at,
        country=country,
        limit=limit,
        stop=stop,
        progress=progress,
        clock=clock,
        workers=installation.config.sweep_workers,
    )
