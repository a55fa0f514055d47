"""Which subjects are due, and for what: the compiled policy SQL applied to the engine's tables.

`policies` compiles rules to expressions over a `ColumnMap`; this module is the one place that maps
those names onto `candidate`, the consent given last per purpose and the legal holds, and adds what
only the engine knows: a subject already anonymized is out of scope (it is no longer personal
data), a block or review already in place is not done twice, a DPO's keep-until decision pauses
the rules, and an active legal hold suspends everything. The plan and the sweep both select
through `decisions()`, so the dry run counts exactly what the sweep would act on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    FromClause,
    Integer,
    Select,
    String,
    TextClause,
    Uuid,
    and_,
    bindparam,
    case,
    not_,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from policies import ColumnMap, CompiledPolicies, PolicySet, compile_policies, join_latest_consents
from policies.model import purposes_used
from retention.holds import active_hold_exists
from retention.models import Candidate, Consent
from retention.review import kept_until_after, review_open
from retention.sweep_schema import SweepItem

__all__ = ["ACTIONS", "Decisions", "actionable_only", "batch_statement", "decisions"]

# The actions the sweep performs; `keep` has no due date and never reaches it.
ACTIONS = ("anonymize", "delete", "block", "review")

_candidates = Candidate.__table__
_consents = Consent.__table__
_items = SweepItem.__table__


@dataclass(frozen=True)
class Decisions:
    """A SELECT of (id, country, slot, action, actionable, held, error, error_detail) per subject.

    `actionable`: due now, not held, not already done. `held`: would be actionable but for a legal
    hold. Bind the instant as parameter `at` (see `params`).
    """

    query: Select[Any]
    compiled: CompiledPolicies
    at: datetime

    @property
    def params(self) -> dict[str, Any]:
        return {"at": self.at}

    def cite(self, slot: int) -> str | None:
        return self.compiled.slots[slot].cite


def _flag(expr: ColumnElement[Any]) -> ColumnElement[int]:
    """1 or 0 (never NULL): sums and compares alike on SQLite and PostgreSQL."""
    return case((expr, 1), else_=0)


def decisions(
    policy_set: PolicySet, at: datetime, *, country: str | None = None, batch: bool = False
) -> Decisions:
    """Build the decision SELECT.

    With `batch`, it covers only the work items of run `run` whose subject ids lie between `lo`
    and `hi` (bind parameters): the statement is then the same for every batch of a run, so it
    is compiled once (`batch_statement`), and its consent join ranks only the batch's consents.
    """
    c = _candidates.c
    consents: FromClause = _consents
    in_batch = None
    if batch:
        it = _items.c
        in_batch = select(it.subject_id).where(
            it.run_id == _Placeholder("run"),
            it.subject_id.between(_Placeholder("lo"), _Placeholder("hi")),
        )
        consents = select(_consents).where(_consents.c.candidate_id.in_(in_batch)).subquery()
    base = select(c.id, c.country).select_from(_candidates)
    query, consent = join_latest_consents(base, c.id, consents, purposes_used(policy_set))
    cols = ColumnMap(
        country=c.country,
        status=c.status,
        applied_at=c.applied_at,
        decided_at=c.decided_at,
        last_activity_at=c.last_activity_at,
        consent=consent,
    )
    compiled = compile_policies(policy_set, cols)
    action = compiled.action
    due_unheld = and_(
        compiled.due,
        action.in_(ACTIONS),
        c.anonymized_at.is_(None),
        not_(and_(action == "block", c.blocked_at.is_not(None))),
        not_(and_(action == "review", review_open(c.id))),
        not_(kept_until_after(c.id, compiled.at)),
    )
    held = active_hold_exists(c.id)
    query = query.add_columns(
        compiled.slot.label("slot"),
        action.label("action"),
        _flag(and_(due_unheld, not_(held))).label("actionable"),
        _flag(and_(due_unheld, held)).label("held"),
        compiled.error.label("error"),
        compiled.error_detail.label("error_detail"),
    )
    # Anonymized subjects are no longer personal data: no rule applies to them any more.
    query = query.where(c.anonymized_at.is_(None))
    if country is not None:
        query = query.where(c.country == country)
    if in_batch is not None:
        query = query.where(c.id.in_(in_batch))
    return Decisions(query, compiled, at)


_RESULT_TYPES = {
    "id": Uuid(),
    "country": String(),
    "slot": Integer(),
    "action": String(),
    "actionable": Integer(),
    "held": Integer(),
    "error": String(),
    "error_detail": String(),
}


class _Placeholder(ColumnElement[uuid.UUID]):
    """A parameter of the batch statement that survives compiling with literal values."""

    inherit_cache = False
    type = Uuid()

    def __init__(self, name: str) -> None:
        self.name = name


@compiles(_Placeholder)
def _placeholder(element: _Placeholder, compiler: SQLCompiler, **kw: Any) -> str:
    return f"__batch_param_{element.name}__"


def batch_statement(policy_set: PolicySet, at: datetime, dialect: Dialect) -> TextClause:
    """The batch decision SELECT, compiled once for `dialect`, as text with three parameters.

    The compiled policy expressions are large (hundreds of kilobytes of SQL) and SQLAlchemy cannot
    cache them; compiling them costs more than running them on a batch. So the statement is
    compiled once per run with every constant (the instant `at` included) rendered as a literal,
    and only the run id and the batch's id range (`run`, `lo`, `hi`) stay parameters.
    """
    d = decisions(policy_set, at, batch=True)
    sql = str(
        d.query.params(at=at).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    )
    # Escape every colon of the literal SQL, then turn the placeholders into text() parameters.
    sql = sql.replace(":", "\\:")
    for name in ("run", "lo", "hi"):
        sql = sql.replace(f"__batch_param_{name}__", f":{name}")
    return (
        text(sql)
        .bindparams(*(bindparam(name, type_=Uuid()) for name in ("run", "lo", "hi")))
        .columns(**_RESULT_TYPES)
    )


def actionable_only(d: Decisions) -> Select[Any]:
    """The decision SELECT narrowed to subjects the sweep acts on."""
    sub = d.query.subquery("decision")
    return select(sub).where(sub.c.actionable == 1)
