"""The sweep's part of `gdpr demo`: plan, hold one due subject, sweep, show the hold respected.

It tells the product's core story on a seeded installation in a few lines: what the policies find
due, that a legal hold placed on one of those subjects keeps every one of its values through the
sweep, and the counts before and after. The lead's `gdpr demo` calls `demo_sweep` after seeding and
before verifying the audit log. Output names the held subject by UUID only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from policies import PolicySet
from retention.access import Role, find_principal_by_name
from retention.clock import Clock, utc_now
from retention.demo.steps import StepReport
from retention.install import Installation, load_installation_policies
from retention.store import Candidate, ReviewItem, table_of, transaction
from retention.sweep import (
    Plan,
    SweepResult,
    actionable_only,
    decisions,
    make_plan,
    place_hold,
    run_sweep,
)

__all__ = ["Counts", "DemoSweep", "demo_sweep", "sweep_step"]

_candidates = table_of(Candidate)


@dataclass(frozen=True)
class Counts:
    subjects: int
    anonymized: int
    blocked: int
    in_review: int

    @classmethod
    def read(cls, conn: Connection) -> Counts:
        c = _candidates.c
        items = table_of(ReviewItem).c

        def count(*where: Any) -> int:
            return int(
                conn.execute(
                    select(func.count()).select_from(_candidates).where(*where)
                ).scalar_one()
            )

        in_review = conn.execute(
            select(func.count()).where(items.decided_at.is_(None))
        ).scalar_one()
        return cls(
            count(),
            count(c.anonymized_at.is_not(None)),
            count(c.blocked_at.is_not(None)),
            int(in_review),
        )


@dataclass(frozen=True)
class DemoSweep:
    plan: Plan
    held_subject: uuid.UUID | None
    held_untouched: bool
    result: SweepResult
    before: Counts
    after: Counts

    def lines(self) -> list[str]:
        p, r, b, a = self.plan, self.result, self.before, self.after
        out = [
            f"Plan: {p.due} subjects due ({', '.join(f'{k} {v}' for k, v in sorted(p.by_action().items()))}),"
            f" {p.in_error} records in error, policy set {p.policy_hash[:16]}",
        ]
        if self.held_subject is not None:
            verdict = "untouched" if self.held_untouched else "CHANGED (bug!)"
            out.append(
                f"Legal hold placed on due subject {self.held_subject}: {verdict} by the sweep"
            )
        out += [
            f"Sweep {r.run_id}: {r.anonymized} anonymized, {r.deleted} deleted, {r.blocked} blocked,"
            f" {r.reviewed} queued for review, {r.files_removed} document files removed",
            f"Before: {b.subjects} subjects, {b.anonymized} anonymized, {b.blocked} blocked,"
            f" {b.in_review} in review",
            f"After:  {a.subjects} subjects, {a.anonymized} anonymized, {a.blocked} blocked,"
            f" {a.in_review} in review",
        ]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "held_subject": str(self.held_subject) if self.held_subject else None,
            "held_untouched": self.held_untouched,
            "sweep": self.result.to_json(),
            "before": self.before,
            "after": self.after,
        }


def _row(conn: Connection, subject: uuid.UUID) -> tuple[Any, ...] | None:
    found = conn.execute(select(_candidates).where(_candidates.c.id == subject)).first()
    return None if found is None else tuple(found)


def demo_sweep(
    installation: Installation,
    policy_set: PolicySet,
    *,
    actor: str,
    at: datetime | None = None,
    clock: Clock = utc_now,
) -> DemoSweep:
    """Plan, hold the first due subject, sweep, and check the held subject did not change."""
    engine = installation.engine
    at = at or clock()
    with transaction(engine) as conn:
        before = Counts.read(conn)
        plan = make_plan(conn, policy_set, at=at, actor=actor, clock=clock)
        d = decisions(policy_set, at)
        sub = actionable_only(d).subquery()
        first = conn.execute(select(sub.c.id).order_by(sub.c.id).limit(1), d.params).scalar()
        snapshot = None
        if first is not None:
            place_hold(
                conn,
                first,
                case_ref="DEMO-2026-001",
                reason="demo: evidence for a pending claim",
                actor=actor,
                clock=clock,
            )
            snapshot = _row(conn, first)
    result = run_sweep(installation, policy_set, actor=actor, at=at, clock=clock)
    with engine.connect() as conn:
        after = Counts.read(conn)
        untouched = first is not None and _row(conn, first) == snapshot
    return DemoSweep(plan, first, untouched, result, before, after)


def sweep_step(installation: Installation, now: datetime) -> StepReport:
    """`gdpr demo` step: the sweep story above, acting as the bootstrap DPO principal."""
    dpo = find_principal_by_name(installation.engine, Role.DPO.value)
    policy_set = load_installation_policies(installation.config)
    shown = demo_sweep(installation, policy_set, actor=str(dpo), at=now)
    return StepReport("sweep", shown.lines(), shown)
