"""Which subjects are due, and for what: the compiled policy SQL applied to the engine's tables.

`policies` compiles rules to expressions over a `ColumnMap`; this module is the one place that maps
those names onto `candidate`, the consent given last per purpose and the legal holds, and adds what
only the engine knows: a subject already anonymized is out of scope (it is no longer personal
data), a block or review already in place is not done twice, a DPO's keep-until decision pauses
the rules, and an active legal hold suspends everything. The plan and the sweep both select
through `decisions()`, so the dry run counts exactly what the sweep would act on.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Dialect,
    Select,
    String,
    TextualSelect,
    Uuid,
    and_,
    bindparam,
    case,
    not_,
    null,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType, TypeEngine

from policies import (
    ColumnMap,
    NaiveUTC,
    PolicySet,
    consent_needed,
    decision_select,
    outerjoin_latest_consents,
    purposes_used,
)
from retention.store import Candidate, Consent, table_of, uuid_array
from retention.sweep.holds import active_hold_exists
from retention.sweep.review_queue import kept_until_after, review_open

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

# The decision columns every caller needs, and those only reports need.
_NEEDED = ("action", "due")
_DETAIL = ("policy", "rule", "error", "error_detail")

_candidates = table_of(Candidate)
_consents = table_of(Consent)


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


def _no_consents(purpose: str, field: str) -> ColumnElement[Any]:
    raise AssertionError("consent_needed reads no consent")


def decisions(
    policy_set: PolicySet,
    at: datetime,
    *,
    country: str | None = None,
    batch: Dialect | None = None,
    detail: bool = True,
) -> Decisions:
    """Build the decision SELECT over the subjects not yet anonymized.

    With `batch` (the dialect it is for), it covers only the subjects of the parameter `ids`
    (and, on PostgreSQL, of the locked rows `rows`; see `batch_statement`).
    Without `detail`, policy, rule, error and error_detail are NULL and cost nothing: enough
    for a work list of the subjects to act on.
    The consent given last per purpose is an anti-join (one index probe per subject, none for
    the subjects whose rules never read a consent).
    """
    c = _candidates.c
    not_anonymized: ColumnElement[bool] = c.anonymized_at.is_(None)
    if batch is not None and batch.name == "postgresql":
        # The same test in a form that proves no partial index's predicate: as it stands it
        # matches `ix_candidate_email_lower`'s, and the planner read that whole index (every
        # subject not anonymized) rather than the batch's rows where its lock found them.
        not_anonymized = not_anonymized.is_(true())
    subjects = select(_candidates).where(not_anonymized)
    if country is not None:
        subjects = subjects.where(c.country == country)
    if batch is not None:
        subjects = subjects.where(_BatchIds(c.id))
    subject = subjects.subquery("subject")
    s = subject.c
    purposes = tuple(sorted(purposes_used(policy_set)))
    own = ColumnMap(
        country=s.country,
        status=s.status,
        applied_at=s.applied_at,
        decided_at=s.decided_at,
        last_activity_at=s.last_activity_at,
        consent=_no_consents,
    )
    joined, consent = outerjoin_latest_consents(
        subject, s.id, _consents, purposes, needed=consent_needed(policy_set, own)
    )
    cols = dataclasses.replace(own, consent=consent)
    extra = (
        s.id.label("id"),
        s.country.label("subject_country"),
        s.blocked_at.label("blocked_at"),
    )
    d = decision_select(
        policy_set,
        cols,
        joined,
        extra=extra,
        purposes=purposes,
        columns=_DETAIL + _NEEDED if detail else _NEEDED,
    )
    # OFFSET 0: a subquery SQLite may not flatten, so each decision column is computed once
    # per row rather than once per mention below.
    d = d.offset(0).subquery("d")
    # What stops a due action, probed only for rows due for one (a CASE evaluates lazily; an
    # OR or AND used as a value would probe every row): 0 nothing to do, 1 act, 2 held.
    at_param = bindparam("at", type_=NaiveUTC())
    probe = batch is not None  # a batch's rows are few: an index probe each, never a hash
    state = case(
        (not_(and_(d.c.due, d.c.action.in_(ACTIONS))), 0),
        (and_(d.c.action == "block", d.c.blocked_at.is_not(None)), 0),
        (and_(d.c.action == "review", review_open(d.c.id, probe=probe)), 0),
        (kept_until_after(d.c.id, at_param, probe=probe), 0),
        (active_hold_exists(d.c.id, probe=probe), 2),
        else_=1,
    )

    def detail_column(name: str) -> ColumnElement[Any]:
        return d.c[name] if detail else null().cast(String).label(name)

    # Likewise `state`, read by both flags.
    staged = (
        select(
            d.c.id,
            d.c.subject_country.label("country"),
            *(detail_column(n) for n in ("policy", "rule")),
            d.c.action,
            *(detail_column(n) for n in ("error", "error_detail")),
            state.label("state"),
        )
        .offset(0)
        .subquery("staged")
    )
    t = staged.c
    query = select(
        t.id,
        t.country,
        t.policy,
        t.rule,
        t.action,
        _flag(t.state == 1).label("actionable"),
        _flag(t.state == 2).label("held"),
        t.error,
        t.error_detail,
    )
    return Decisions(query, at)


def actionable_only(d: Decisions) -> Select[Any]:
    """The decision SELECT narrowed to subjects the sweep acts on."""
    sub = d.query.subquery("decision")
    return select(sub).where(sub.c.actionable == 1)


# The batch statement's columns: (id, country, policy, rule, action) of each subject to act on.
_RESULT_TYPES: dict[str, TypeEngine[Any]] = {
    "id": Uuid(),
    "country": String(),
    "policy": String(),
    "rule": String(),
    "action": String(),
}
# Where the batch's ids go in the compiled text (a parameter after `batch_statement`).
_IDS_PLACEHOLDER = "__batch_param_ids__"
# Where the batch's locked rows go (PostgreSQL: their `ctid`s, a parameter `rows` after it).
_ROWS_PLACEHOLDER = "__batch_param_rows__"


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


@compiles(_BatchIds, "postgresql")
def _batch_ids_pg(element: _BatchIds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    table = compiler.preparer.format_table(element.column.table)
    # The rows are read where the batch's lock found them (`ctid`, a Tid Scan): the lock has
    # just probed the primary key for every id, and the decision probing it again cost a third
    # of its time, more the larger the table (1.74x from 100,000 to 1,000,000 candidates). A
    # locked row cannot move before this transaction changes it. The ids stay as a filter (a
    # hashed lookup per row): only the batch's subjects are ever decided.
    return (
        f"{table}.ctid = ANY(CAST({_ROWS_PLACEHOLDER} AS tid[])) "
        f"AND {column} = ANY(CAST({_IDS_PLACEHOLDER} AS uuid[]))"
    )


@compiles(_BatchIds)
def _batch_ids_sqlite(element: _BatchIds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    # `column` is a compiled column name; the ids travel as the bound parameter.
    return f"{column} IN (SELECT value FROM json_each({_IDS_PLACEHOLDER}))"  # noqa: S608


def batch_ids(dialect: Dialect, ids: Sequence[Any]) -> str:
    """The driver-level value of the batch statement's `ids` parameter for `dialect`.

    `ids` are as the driver returns stored subject ids: 32-digit hex text on SQLite, UUIDs on
    PostgreSQL (the statement runs through the driver; see `retention.sweep.run`).
    """
    if dialect.name == "postgresql":
        return uuid_array(ids)
    return json.dumps(ids)


def batch_statement(policy_set: PolicySet, at: datetime, dialect: Dialect) -> TextualSelect:
    """The batch decision SELECT, compiled once for `dialect`, as text with the batch's ids.

    The compiled policy expressions are large (hundreds of kilobytes of SQL) and SQLAlchemy cannot
    cache them; compiling them costs more than running them on a batch. So the statement is
    compiled once per run with every constant (the instant `at` included) rendered as a literal,
    and only the batch's subject ids (`ids`, see `batch_ids`) stay a parameter, with, on
    PostgreSQL, the text of the `tid[]` of their rows as the batch's lock found them (`rows`).
    """
    d = decisions(policy_set, at, batch=dialect)
    # Only what the sweep reads, of the subjects it acts on: the server then computes no
    # error texts and sends no row it would skip.
    decided = d.query.subquery("decided")
    query = select(*(decided.c[name] for name in _RESULT_TYPES)).where(decided.c.actionable == 1)
    sql = str(query.params(at=at).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    # SQLite renders OFFSET without LIMIT as "LIMIT ? OFFSET" with -1 bound even under
    # literal_binds; put the -1 in the text so that only our parameters remain.
    sql = sql.replace("LIMIT ? OFFSET", "LIMIT -1 OFFSET")
    # Escape every colon of the literal SQL, then turn the placeholders into text() parameters.
    sql = sql.replace(":", "\\:")
    sql = sql.replace(_IDS_PLACEHOLDER, ":ids")
    if dialect.name != "postgresql":
        return text(sql).bindparams(bindparam("ids", type_=String())).columns(**_RESULT_TYPES)
    sql = sql.replace(_ROWS_PLACEHOLDER, ":rows")
    # Untyped: a `varchar` parameter would be cast to tid[] again for every row (see
    # `retention.store.id_sets`).
    params = (bindparam("ids", type_=ARRAY(Uuid())), bindparam("rows", type_=NullType()))
    return text(sql).bindparams(*params).columns(**_RESULT_TYPES)
