"""Which subjects are due, and for what: the compiled policy SQL applied to the engine's tables.

`policies` compiles rules to expressions over a `ColumnMap`; this module is the one place that maps
those names onto `candidate`, the consent given last per purpose and the legal holds, and adds what
only the engine knows: a subject already anonymized is out of scope (it is no longer personal
data), a block or review already in place is not done twice, a DPO's keep-until decision pauses
the rules, and an active legal hold suspends everything. The plan and the sweep both select
through `decisions()`, so the dry run counts exactly what the sweep would act on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Dialect,
    Integer,
    Select,
    String,
    TextClause,
    Uuid,
    and_,
    bindparam,
    case,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from policies import ColumnMap, NaiveUTC, PolicySet, latest_consent
from policies.model import purposes_used
from policies.sql_compiler import decision_select
from policies.sql_consent import latest_consent_on
from retention.holds import active_hold_exists
from retention.models import Candidate, Consent
from retention.review import kept_until_after, review_open

__all__ = [
    "ACTIONS",
    "Decisions",
    "actionable_only",
    "batch_ids",
    "batch_statement",
    "cites",
    "decisions",
]

# The actions the sweep performs; `keep` has no due date and never reaches it.
ACTIONS = ("anonymize", "delete", "block", "review")

_candidates = Candidate.__table__
_consents = Consent.__table__


@dataclass(frozen=True)
class Decisions:
    """A SELECT of (id, country, policy, rule, action, actionable, held, error, error_detail).

    `actionable` (1/0): due now, not held, not already done. `held` (1/0): would be actionable but
    for a legal hold. Bind the instant as parameter `at` (see `params`).
    """

    query: Select[Any]
    at: datetime

    @property
    def params(self) -> dict[str, Any]:
        return {"at": self.at}


def cites(policy_set: PolicySet) -> dict[tuple[str, str], str | None]:
    """(policy, rule) -> the rule's legal source, for audit details and review items."""
    return {(p.name, r.name): r.cite for p in policy_set.policies.values() for r in p.rules}


def _flag(expr: ColumnElement[Any]) -> ColumnElement[int]:
    """1 or 0 (never NULL): sums and compares alike on SQLite and PostgreSQL."""
    return case((expr, 1), else_=0)


def decisions(
    policy_set: PolicySet, at: datetime, *, country: str | None = None, batch: bool = False
) -> Decisions:
    """Build the decision SELECT over the subjects not yet anonymized.

    With `batch`, it covers only the subjects of the parameter `ids` (see `batch_statement`).
    The consent given last per purpose is an anti-join (one index probe per subject).
    """
    c = _candidates.c
    subjects = select(_candidates).where(c.anonymized_at.is_(None))
    if country is not None:
        subjects = subjects.where(c.country == country)
    if batch:
        subjects = subjects.where(_BatchIds(c.id))
    subject = subjects.subquery("subject")
    s = subject.c
    purposes = tuple(sorted(purposes_used(policy_set)))
    joined: Any = subject
    latest = {}
    for purpose in purposes:
        latest[purpose] = latest_consent(_consents, purpose)
        on = latest_consent_on(latest[purpose], _consents, s.id, purpose, "candidate_id")
        joined = joined.outerjoin(latest[purpose], on)
    cols = ColumnMap(
        country=s.country,
        status=s.status,
        applied_at=s.applied_at,
        decided_at=s.decided_at,
        last_activity_at=s.last_activity_at,
        consent=lambda p, f: latest[p].c[f],
    )
    at_param = bindparam("at", type_=NaiveUTC())
    extra = (
        s.id.label("id"),
        s.country.label("subject_country"),
        s.blocked_at.label("blocked_at"),
        review_open(s.id).label("review_open"),
        kept_until_after(s.id, at_param).label("kept"),
        active_hold_exists(s.id).label("held_now"),
    )
    d = decision_select(policy_set, cols, joined, extra=extra, purposes=purposes).subquery("d")
    done = or_(
        and_(d.c.action == "block", d.c.blocked_at.is_not(None)),
        and_(d.c.action == "review", d.c.review_open),
        d.c.kept,
    )
    due = and_(d.c.due, d.c.action.in_(ACTIONS), not_(done))
    query = select(
        d.c.id,
        d.c.subject_country.label("country"),
        d.c.policy,
        d.c.rule,
        d.c.action,
        _flag(and_(due, not_(d.c.held_now))).label("actionable"),
        _flag(and_(due, d.c.held_now)).label("held"),
        d.c.error,
        d.c.error_detail,
    )
    return Decisions(query, at)


def actionable_only(d: Decisions) -> Select[Any]:
    """The decision SELECT narrowed to subjects the sweep acts on."""
    sub = d.query.subquery("decision")
    return select(sub).where(sub.c.actionable == 1)


_RESULT_TYPES = {
    "id": Uuid(),
    "country": String(),
    "policy": String(),
    "rule": String(),
    "action": String(),
    "actionable": Integer(),
    "held": Integer(),
    "error": String(),
    "error_detail": String(),
}


class _BatchIds(ColumnElement[bool]):
    """`column` is one of the batch's ids: a parameter that survives compiling with literals.

    As an array (PostgreSQL) or a JSON list (SQLite) the planner sees the batch's real size; a
    range over the work list was estimated at one row once the list's statistics aged, and the
    nested loop chosen for that scanned the batch once per subject.
    """

    inherit_cache = False
    type = Boolean()
    # A comparison, not a boolean value: without this, dialects lacking a boolean type (SQLite)
    # render "... IN (...) = 1", which no index serves, and every batch scanned the whole table.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column


@compiles(_BatchIds)
def _batch_ids_pg(element: _BatchIds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY(CAST(__batch_param_ids__ AS uuid[]))"


@compiles(_BatchIds, "sqlite")
def _batch_ids_sqlite(element: _BatchIds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    # `column` is a compiled column name; the ids travel as the bound parameter.
    return f"{column} IN (SELECT value FROM json_each(__batch_param_ids__))"  # noqa: S608


def batch_ids(dialect: Dialect, ids: Sequence[uuid.UUID]) -> Any:
    """The value of the batch statement's `ids` parameter for `dialect`."""
    if dialect.name == "postgresql":
        return list(ids)
    return json.dumps([i.hex for i in ids])


def batch_statement(policy_set: PolicySet, at: datetime, dialect: Dialect) -> TextClause:
    """The batch decision SELECT, compiled once for `dialect`, as text with one parameter.

    The compiled policy expressions are large (hundreds of kilobytes of SQL) and SQLAlchemy cannot
    cache them; compiling them costs more than running them on a batch. So the statement is
    compiled once per run with every constant (the instant `at` included) rendered as a literal,
    and only the batch's subject ids (`ids`, see `batch_ids`) stay a parameter.
    """
    d = decisions(policy_set, at, batch=True)
    sql = str(
        d.query.params(at=at).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    )
    # SQLite renders OFFSET without LIMIT as "LIMIT ? OFFSET" with -1 bound even under
    # literal_binds; put the -1 in the text so that only our parameters remain.
    sql = sql.replace("LIMIT ? OFFSET", "LIMIT -1 OFFSET")
    # Escape every colon of the literal SQL, then turn the placeholders into text() parameters.
    sql = sql.replace(":", "\\:")
    sql = sql.replace("__batch_param_ids__", ":ids")
    ids_type = ARRAY(Uuid()) if dialect.name == "postgresql" else String()
    return text(sql).bindparams(bindparam("ids", type_=ids_type)).columns(**_RESULT_TYPES)
