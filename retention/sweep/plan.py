"""The dry run: what a sweep at instant `at` would do, counted in one set-based query.

It groups the compiled decisions of every subject by country, rule and action, and counts the due
ones, the ones a legal hold protects, and the records the policies cannot decide (no policy for
the country, a missing anchor), with the policy set's content hash: what a DPO reviews before
letting the sweep act. It changes nothing but the audit log, which records that a plan was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from audit_log import Event
from policies import PolicySet
from retention.clock import Clock, utc_now
from retention.results import rfc3339
from retention.store import record
from retention.sweep.selection import cites, decisions

__all__ = ["Plan", "PlanError", "PlanRow", "make_plan"]


@dataclass(frozen=True)
class PlanRow:
    country: str
    policy: str
    rule: str
    action: str
    cite: str | None
    due: int
    held: int


@dataclass(frozen=True)
class PlanError:
    country: str
    cause: str
    detail: str
    policy: str | None
    rule: str | None
    count: int


@dataclass(frozen=True)
class Plan:
    evaluated_at: datetime
    policy_hash: str
    country: str | None
    rows: tuple[PlanRow, ...] = ()
    errors: tuple[PlanError, ...] = ()
    subjects: int = 0

    @property
    def due(self) -> int:
        return sum(r.due for r in self.rows)

    @property
    def held(self) -> int:
        return sum(r.held for r in self.rows)

    @property
    def in_error(self) -> int:
        return sum(e.count for e in self.errors)

    def by_action(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.action] = out.get(r.action, 0) + r.due
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "evaluated_at": rfc3339(self.evaluated_at),
            "policy_hash": self.policy_hash,
            "country": self.country,
            "subjects": self.subjects,
            "due": self.due,
            "held": self.held,
            "errors": self.in_error,
            "by_action": self.by_action(),
            "rows": [r.__dict__ for r in self.rows],
            "error_rows": [e.__dict__ for e in self.errors],
        }


def make_plan(
    conn: Connection,
    policy_set: PolicySet,
    *,
    at: datetime,
    actor: str,
    country: str | None = None,
    clock: Clock = utc_now,
) -> Plan:
    """Count what a sweep at `at` would do and audit the plan (`sweep.plan`); never commits."""
    d = decisions(policy_set, at, country=country)
    sub = d.query.subquery("decision")
    q = select(
        sub.c.country,
        sub.c.policy,
        sub.c.rule,
        sub.c.action,
        sub.c.error,
        sub.c.error_detail,
        func.count().label("subjects"),
        func.sum(sub.c.actionable).label("due"),
        func.sum(sub.c.held).label("held"),
    ).group_by(
        sub.c.country, sub.c.policy, sub.c.rule, sub.c.action, sub.c.error, sub.c.error_detail
    )
    cite = cites(policy_set)
    rows: list[PlanRow] = []
    errors: list[PlanError] = []
    subjects = 0
    for r in conn.execute(q, d.params):
        subjects += r.subjects
        if r.error is not None:
            errors.append(
                PlanError(r.country, r.error, r.error_detail, r.policy, r.rule, r.subjects)
            )
        elif r.due or r.held:
            rows.append(
                PlanRow(
                    r.country,
                    r.policy,
                    r.rule,
                    r.action,
                    cite.get((r.policy, r.rule)),
                    int(r.due),
                    int(r.held),
                )
            )
    rows.sort(key=lambda r: (r.country, r.policy, r.rule, r.action))
    errors.sort(key=lambda e: (e.country, e.cause, e.detail))
    plan = Plan(at, policy_set.content_hash, country, tuple(rows), tuple(errors), subjects)
    details = {
        "policy_hash": plan.policy_hash,
        "evaluated_at": at,
        "country": country,
        "subjects": subjects,
        "due": plan.due,
        "held": plan.held,
        "errors": plan.in_error,
        "by_action": plan.by_action(),
    }
    record(conn, Event(actor=actor, action="sweep.plan", details=details), at=clock())
    return plan
