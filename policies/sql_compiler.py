"""Compile the policy set to SQLAlchemy Core expressions, so sweeps decide records set-based.

One meaning, two executions: these expressions must select exactly the records, rules and actions
the Python evaluator does (a hypothesis property test holds them to it on SQLite and PostgreSQL).
The caller (retention) owns the tables: it hands in a ColumnMap, including the columns of a join to
the consent given last per purpose, and puts the expressions in one SELECT with the instant bound
as the parameter `at`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    String,
    and_,
    bindparam,
    case,
    false,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from .evaluator import ErrorCause
from .model import Policy, PolicySet
from .nodes import (
    AnchorTerm,
    And,
    Condition,
    ConsentAnchorRef,
    ConsentIs,
    Extremum,
    Instant,
    Not,
    Offset,
    Rule,
    StatusIn,
)
from .schema import Action
from .sql_time import AddDuration, Extreme, LatestAnchor, NaiveUTC

Col = ColumnElement[Any]


@dataclass(frozen=True)
class ColumnMap:
    """Where the facts a rule may use live in the caller's SELECT.

    `consent(purpose, field)` returns the column of the consent given last for that purpose
    (field: given_at, expires_at or withdrawn_at), null when there is none. `held`, when given,
    is true for records under an active legal hold: their stage is never due.
    """

    country: Col
    status: Col
    applied_at: Col
    decided_at: Col
    last_activity_at: Col
    consent: Callable[[str, str], Col]
    held: Col | None = None


@dataclass(frozen=True)
class RuleSlot:
    """One (policy, rule) pair the `slot` expression can name."""

    index: int
    policy: str
    rule: str
    cite: str | None


@dataclass(frozen=True)
class CompiledPolicies:
    """Expressions over a ColumnMap, all relative to the bound instant `at`.

    slot: index into `slots` of the deciding rule, NULL when no policy covers the country.
    action / due_at: the current stage (the last already due, else the first); due: the current
    stage is due and no hold applies; next_action / next_due_at: the following stage.
    error: an ErrorCause value or NULL; error_detail: the country or the missing anchor.
    """

    at: BindParameter[Any]
    slots: tuple[RuleSlot, ...]
    slot: Col
    policy: Col
    rule: Col
    action: Col
    due_at: Col
    due: Col
    next_action: Col
    next_due_at: Col
    error: Col
    error_detail: Col
    content_hash: str
    stage_times: tuple[Col, ...] = ()
    may_be_due: Col | None = None

    def columns(self) -> list[Col]:
        """Every decision expression, labelled, ready for a select()."""
        return [
            self.policy.label("policy"),
            self.rule.label("rule"),
            self.action.label("action"),
            self.due_at.label("due_at"),
            self.due.label("due"),
            self.next_action.label("next_action"),
            self.next_due_at.label("next_due_at"),
            self.error.label("error"),
            self.error_detail.label("error_detail"),
        ]


class _RuleCompiler:
    def __init__(self, cols: ColumnMap, at: BindParameter[Any]) -> None:
        self.cols = cols
        self.at = at

    def condition(self, cond: Condition | None) -> Col:
        # Every branch is two-valued (never NULL), so NOT and CASE behave like Python.
        if cond is None:
            return true()
        if isinstance(cond, StatusIn):
            status = self.cols.status
            return and_(status.is_not(None), status.in_(list(cond.statuses)))
        if isinstance(cond, ConsentIs):
            given = self.cols.consent(cond.purpose, "given_at")
            withdrawn = self.cols.consent(cond.purpose, "withdrawn_at")
            if cond.state == "given":
                return and_(given.is_not(None), withdrawn.is_(None))
            if cond.state == "withdrawn":
                return and_(given.is_not(None), withdrawn.is_not(None))
            expires = self.cols.consent(cond.purpose, "expires_at")
            return and_(
                given.is_not(None), withdrawn.is_(None), expires.is_not(None), expires <= self.at
            )
        if isinstance(cond, Not):
            return not_(self.condition(cond.operand))
        parts = [self.condition(c) for c in cond.operands]
        return and_(*parts) if isinstance(cond, And) else or_(*parts)

    def anchor(self, anchor: object) -> Col:
        if isinstance(anchor, ConsentAnchorRef):
            return self.cols.consent(anchor.purpose, anchor.field)
        return getattr(self.cols, anchor.name)  # type: ignore[attr-defined,no-any-return]

    def term(self, term: Offset | AnchorTerm) -> Col:
        base = self.anchor(term.anchor)
        if isinstance(term, AnchorTerm):
            return base
        return AddDuration(base, term.duration.amount, term.duration.unit)

    def span(self, span: Instant) -> Col:
        if isinstance(span, Extremum):
            terms = [self.term(t) for t in span.terms]  # type: ignore[arg-type]
            return terms[0] if len(terms) == 1 else Extreme(span.kind, terms)
        return self.term(span)

    def may_be_due(self, span: Instant) -> Col:
        """A cheap necessary condition for `span <= at`: anchors against precomputed bounds."""
        terms = span.terms if isinstance(span, Extremum) else (span,)
        checks = []
        for term in terms:
            anchor = self.anchor(term.anchor)  # type: ignore[union-attr]
            if isinstance(term, Offset):
                bound: Col = LatestAnchor(self.at, term.duration.amount, term.duration.unit)
            else:
                bound = self.at
            checks.append(and_(anchor.is_not(None), anchor <= bound))
        return or_(*checks)

    def stage_times(self, rule: Rule) -> list[Col]:
        assert rule.span is not None
        times = [self.span(rule.span)]
        for stage in rule.stages[1:]:
            if stage.after is None:
                times.append(times[-1])
            else:
                times.append(AddDuration(times[-1], stage.after.amount, stage.after.unit))
        return times


def _missing_detail(span: Instant) -> str:
    if isinstance(span, Extremum):
        return f"one of the anchors of {span.text()}"
    return span.anchor.text()


def compile_policies(
    policy_set: PolicySet,
    cols: ColumnMap,
    *,
    slot_column: Col | None = None,
    stage_columns: tuple[Col, ...] | None = None,
) -> CompiledPolicies:
    """Compile every policy's rules, in rule order per country, to expressions over `cols`.

    With `slot_column` (the `slot` expression already computed in a subquery), the derived
    expressions read it instead of repeating the rule CASE; with `stage_columns` (the
    `stage_times` already computed), they read those instead of redoing the date arithmetic.
    See `decision_select`, which layers them so each row computes each thing once.
    """
    at = bindparam("at", type_=NaiveUTC())
    rc = _RuleCompiler(cols, at)
    slots: list[RuleSlot] = []
    per_policy: list[tuple[Policy, list[tuple[int, Rule]]]] = []
    for policy in sorted(policy_set.policies.values(), key=lambda p: p.name):
        if not policy.countries:
            continue
        indexed = []
        for rule in policy.rules:
            slots.append(RuleSlot(len(slots), policy.name, rule.name, rule.cite))
            indexed.append((len(slots) - 1, rule))
        per_policy.append((policy, indexed))

    slot = case(
        *[
            (
                cols.country.in_(list(policy.countries)),
                case(*[(rc.condition(r.condition), literal(i)) for i, r in rules], else_=None),
            )
            for policy, rules in per_policy
        ],
        else_=None,
    )
    slot_case = slot
    if slot_column is not None:
        slot = slot_column
    by_slot: dict[int, Rule] = {i: r for _, rules in per_policy for i, r in rules}

    def slot_in(ids: list[int]) -> Col:
        # Literal integers: constant IN lists let SQLite build its lookup once per statement.
        if len(ids) == 1:
            return slot == literal_column(str(ids[0]))
        return slot.in_([literal_column(str(i)) for i in ids])

    def grouped(pairs: dict[int, tuple[Any, Col]], type_: Any) -> Col:
        """CASE over groups of slots sharing one expression: far fewer branches per row."""
        groups: dict[Any, tuple[list[int], Col]] = {}
        for i, (key, expr) in pairs.items():
            groups.setdefault(key, ([], expr))[0].append(i)
        if not groups:
            return null().cast(type_)
        whens = [(slot_in(ids), expr) for ids, expr in groups.values()]
        return type_coerce(case(*whens, else_=None), type_)

    def per_slot(make: Callable[[int, Rule], tuple[Any, Col] | None], type_: Any) -> Col:
        return grouped({i: v for i, r in by_slot.items() if (v := make(i, r)) is not None}, type_)

    def body(r: Rule) -> Any:
        assert r.span is not None
        stages = tuple((st.action, st.after.text() if st.after else None) for st in r.stages)
        return (r.span.text(), stages)

    times = {i: rc.stage_times(r) for i, r in by_slot.items() if r.span is not None}
    depth = max((len(ts) for ts in times.values()), default=0)
    stage_times = tuple(
        per_slot(
            lambda i, r, k=k: (
                None
                if r.span is None or len(times[i]) <= k
                else ((r.span.text(), body(r)[1][1 : k + 1]), times[i][k])
            ),
            NaiveUTC(),
        )
        for k in range(depth)
    )
    if stage_columns is not None:
        times = {i: list(stage_columns[: len(ts)]) for i, ts in times.items()}

    def current(i: int, values: list[Any]) -> Col:
        ts = times[i]
        if len(ts) == 1:
            return values[0]
        return case(*[(ts[k] <= at, values[k]) for k in range(len(ts) - 1, 0, -1)], else_=values[0])

    def action(i: int, r: Rule) -> tuple[Any, Col]:
        if r.span is None:
            return ("action", Action.KEEP.value), literal(Action.KEEP.value, String)
        if len(r.stages) == 1:
            return ("action", r.stages[0].action), literal(r.stages[0].action, String)
        return body(r), current(i, [literal(s.action, String) for s in r.stages])

    def due_at(i: int, r: Rule) -> tuple[Any, Col] | None:
        return None if r.span is None else (body(r), current(i, times[i]))

    def next_pair(i: int, r: Rule, pick: int) -> tuple[Any, Col] | None:
        if r.span is None or len(r.stages) < 2:
            return None
        ts, n = times[i], len(times[i])
        nxt = [(literal(r.stages[k + 1].action, String), ts[k + 1]) for k in range(n - 1)]
        whens: list[tuple[Col, Col]] = [(ts[n - 1] <= at, null())]
        whens += [(ts[k] <= at, nxt[k][pick]) for k in range(n - 2, 0, -1)]
        return body(r), case(*whens, else_=nxt[0][pick])

    def due(i: int, r: Rule) -> tuple[Any, Col] | None:
        if r.span is None:
            return None
        return r.span.text(), and_(times[i][0].is_not(None), times[i][0] <= at)

    def missing(i: int, r: Rule) -> tuple[Any, Col] | None:
        return None if r.span is None else (r.span.text(), times[i][0].is_(None))

    due_expr = per_slot(due, Boolean)
    due_expr = case((due_expr, true()), else_=false())
    if cols.held is not None:
        due_expr = and_(due_expr, not_(case((cols.held, true()), else_=false())))
    missing_expr = per_slot(missing, Boolean)
    missing_detail = per_slot(
        lambda i, r: (
            None
            if r.span is None
            else (_missing_detail(r.span), literal(_missing_detail(r.span), String))
        ),
        String,
    )
    error = case(
        (slot.is_(None), literal(ErrorCause.UNCOVERED_COUNTRY.value, String)),
        (missing_expr, literal(ErrorCause.MISSING_ANCHOR.value, String)),
        else_=None,
    )
    error_detail = case(
        (slot.is_(None), cols.country),
        (missing_expr, missing_detail),
        else_=None,
    )
    return CompiledPolicies(
        at=at,
        slots=tuple(slots),
        slot=slot_case,
        policy=per_slot(lambda i, r: (slots[i].policy, literal(slots[i].policy, String)), String),
        rule=per_slot(lambda i, r: (r.name, literal(r.name, String)), String),
        action=per_slot(action, String),
        due_at=per_slot(due_at, NaiveUTC()),
        due=due_expr,
        next_action=per_slot(lambda i, r: next_pair(i, r, 0), String),
        next_due_at=per_slot(lambda i, r: next_pair(i, r, 1), NaiveUTC()),
        error=error,
        error_detail=error_detail,
        content_hash=policy_set.content_hash,
        stage_times=stage_times,
        may_be_due=case(
            (
                per_slot(
                    lambda i, r: None if r.span is None else (r.span.text(), rc.may_be_due(r.span)),
                    Boolean,
                ),
                true(),
            ),
            else_=false(),
        ),
    )


def decision_select(
    policy_set: PolicySet,
    cols: ColumnMap,
    from_: Any,
    *,
    extra: tuple[Col, ...] = (),
    purposes: tuple[str, ...] = (),
    only_due: bool = False,
    where: Col | None = None,
) -> Any:
    """One set-based SELECT of `extra` plus every decision column, bound to `at`.

    Three layers, each a subquery the planner must not flatten (OFFSET 0): the deciding rule
    (slot), then the due instant of each stage, then the decision columns reading both, so each
    row runs the rule conditions and the date arithmetic once.
    `purposes` lists the consent purposes `cols.consent` serves (see `purposes_used`);
    `where` restricts the rows considered (e.g. not yet anonymized).
    """
    inner_compiled = compile_policies(policy_set, cols)
    consent_cols = [
        cols.consent(p, f).label(f"c_{p}__{f}")
        for p in purposes
        for f in ("given_at", "expires_at", "withdrawn_at")
    ]
    held = [cols.held.label("held")] if cols.held is not None else []
    inner = (
        select(
            *extra,
            cols.country.label("country"),
            cols.status.label("status"),
            cols.applied_at.label("applied_at"),
            cols.decided_at.label("decided_at"),
            cols.last_activity_at.label("last_activity_at"),
            *consent_cols,
            *held,
            inner_compiled.slot.label("policy_slot"),
        )
        .select_from(from_)
        .where(where if where is not None else true())
        .offset(0)
        .subquery("policy_rows")
    )
    c = inner.c
    outer_cols = ColumnMap(
        country=c.country,
        status=c.status,
        applied_at=c.applied_at,
        decided_at=c.decided_at,
        last_activity_at=c.last_activity_at,
        consent=lambda p, f: c[f"c_{p}__{f}"],
        held=c.held if cols.held is not None else None,
    )
    middle_compiled = compile_policies(policy_set, outer_cols, slot_column=c.policy_slot)
    names = list(c.keys())
    middle_select = select(
        *(c[n] for n in names),
        *(t.label(f"stage_{k}") for k, t in enumerate(middle_compiled.stage_times)),
    )
    if only_due:
        # Rows whose anchors are too recent to be due skip the date arithmetic entirely.
        assert middle_compiled.may_be_due is not None
        middle_select = middle_select.where(middle_compiled.may_be_due)
    middle = middle_select.offset(0).subquery("policy_times")
    m = middle.c
    final_cols = ColumnMap(
        country=m.country,
        status=m.status,
        applied_at=m.applied_at,
        decided_at=m.decided_at,
        last_activity_at=m.last_activity_at,
        consent=lambda p, f: m[f"c_{p}__{f}"],
        held=m.held if cols.held is not None else None,
    )
    compiled = compile_policies(
        policy_set,
        final_cols,
        slot_column=m.policy_slot,
        stage_columns=tuple(m[f"stage_{k}"] for k in range(len(middle_compiled.stage_times))),
    )
    query = select(*(m[e.name] for e in extra), *compiled.columns())  # type: ignore[attr-defined]
    return query.where(compiled.due) if only_due else query
