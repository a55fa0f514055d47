"""Compile the policy set to SQLAlchemy Core expressions, so sweeps decide records set-based.

One meaning, two executions: these expressions must select exactly the records, rules and actions
the Python evaluator does (a hypothesis property test holds them to it on SQLite and PostgreSQL).
The caller (retention) owns the tables: it hands in a ColumnMap, including the columns of a join to
the consent given last per purpose, and puts the expressions in one SELECT with the instant bound
as the parameter `at`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    Anchor,
    AnchorTerm,
    And,
    Condition,
    ConsentAnchorRef,
    ConsentIs,
    Duration,
    Extremum,
    Instant,
    Not,
    Offset,
    Rule,
    StatusIn,
)
from .schema import Action
from .sql_time import AddDuration, Extreme, NaiveUTC, Reached

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


_NO_VALUE = object()  # a slot for which a per-slot expression has no value

# The decision columns `decision_select` returns, in order.
DECISION_COLUMNS = (
    "policy",
    "rule",
    "action",
    "due_at",
    "due",
    "next_action",
    "next_due_at",
    "error",
    "error_detail",
)


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

    def columns(self, names: Sequence[str] = DECISION_COLUMNS) -> list[Col]:
        """The decision expressions named (default: all), labelled, ready for a select()."""
        return [getattr(self, name).label(name) for name in names]


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

    def anchor(self, anchor: Anchor) -> Col:
        if isinstance(anchor, ConsentAnchorRef):
            return self.cols.consent(anchor.purpose, anchor.field)
        column: Col = getattr(self.cols, anchor.name)
        return column

    def term(self, term: Offset | AnchorTerm) -> Col:
        base = self.anchor(term.anchor)
        if isinstance(term, AnchorTerm):
            return base
        return AddDuration(base, term.duration.amount, term.duration.unit)

    def span(self, span: Instant) -> Col:
        if isinstance(span, Extremum):
            terms = [self.term(t) for t in span.terms]
            return terms[0] if len(terms) == 1 else Extreme(span.kind, terms)
        return self.term(span)

    def reached(self, span: Instant, steps: Sequence[Duration]) -> Col:
        """Two-valued `span + steps <= at`, false for a null span, arithmetic only near the bound.

        The earliest of several terms has passed when any non-null term has; the latest, when
        every non-null term has and one is not null (nulls are skipped, as in Python).
        """
        if isinstance(span, Extremum):
            if steps:
                total = self.chain(self.span(span), steps)
                return and_(total.is_not(None), total <= self.at)
            terms = span.terms
            parts = [self.term_reached(t, ()) for t in terms]
            if span.kind == "earliest":
                return or_(*parts)
            anchors = [self.anchor(t.anchor) for t in terms]
            return and_(
                or_(*[a.is_not(None) for a in anchors]),
                *[or_(a.is_(None), p) for a, p in zip(anchors, parts, strict=True)],
            )
        return self.term_reached(span, steps)

    def term_reached(self, term: Offset | AnchorTerm, steps: Sequence[Duration]) -> Col:
        anchor = self.anchor(term.anchor)
        durations = ([term.duration] if isinstance(term, Offset) else []) + list(steps)
        if not durations:
            passed: Col = anchor <= self.at
        elif len(durations) == 1:
            passed = Reached(anchor, durations[0].amount, durations[0].unit, self.at)
        else:
            passed = self.chain(anchor, durations) <= self.at
        return and_(anchor.is_not(None), passed)

    def chain(self, start: Col, durations: Sequence[Duration]) -> Col:
        for d in durations:
            start = AddDuration(start, d.amount, d.unit)
        return start

    def span_missing(self, span: Instant) -> Col:
        """The span is null: its anchor is, or (earliest/latest of) every term's anchor is."""
        terms = span.terms if isinstance(span, Extremum) else (span,)
        return and_(*[self.anchor(t.anchor).is_(None) for t in terms])

    def stages_reached(self, rule: Rule) -> list[Col]:
        """Per stage, whether its instant has passed (each stage `after` the previous one)."""
        assert rule.span is not None
        steps: list[Duration] = []
        out = []
        for k, stage in enumerate(rule.stages):
            if k and stage.after is not None:
                steps.append(stage.after)
            out.append(self.reached(rule.span, tuple(steps)))
        return out

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
) -> CompiledPolicies:
    """Compile every policy's rules, in rule order per country, to expressions over `cols`.

    With `slot_column` (the `slot` expression already computed in a subquery), the derived
    expressions read it instead of repeating the rule CASE; see `decision_select`.
    Whether a stage is due is decided by `Reached` (comparisons with bounds computed once per
    statement); the calendar arithmetic runs only for the due_at values a caller reads.
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

    slot: Col = case(
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

    def grouped(pairs: dict[int, tuple[Any, Col]], type_: Any) -> Col:
        """The expression of the row's slot, found by binary search: a few integer comparisons.

        Consecutive slots sharing one expression (same key) are one leaf; slots without one,
        and a NULL slot, give NULL. (Constant IN lists per group cost SQLite a b-tree probe
        each, and a row went through dozens of them per column.)
        """
        runs: list[tuple[int, Any, Col | None]] = []  # (first slot, key, expression)
        for i in range(len(slots)):
            key, expr = pairs.get(i, (_NO_VALUE, None))
            if not runs or runs[-1][1] != key:
                runs.append((i, key, expr))
        if all(expr is None for _, _, expr in runs):
            return null().cast(type_)

        def leaf(expr: Col | None) -> Col:
            return null() if expr is None else expr

        def search(lo: int, hi: int) -> Col:
            if hi - lo == 1:
                return leaf(runs[lo][2])
            mid = (lo + hi) // 2
            below = slot < literal_column(str(runs[mid][0]))
            return case((below, search(lo, mid)), else_=search(mid, hi))

        if len(runs) == 1:
            return type_coerce(case((slot.is_not(None), leaf(runs[0][2])), else_=None), type_)
        mid = len(runs) // 2
        bound: Col = literal_column(str(runs[mid][0]))
        # At the top both tests are spelled out, so that a NULL slot matches neither.
        top = case((slot < bound, search(0, mid)), (slot >= bound, search(mid, len(runs))))
        return type_coerce(top, type_)

    def per_slot(make: Callable[[int, Rule], tuple[Any, Col] | None], type_: Any) -> Col:
        return grouped({i: v for i, r in by_slot.items() if (v := make(i, r)) is not None}, type_)

    def body(r: Rule) -> Any:
        assert r.span is not None
        stages = tuple((st.action, st.after.text() if st.after else None) for st in r.stages)
        return (r.span.text(), stages)

    timed = {i: r for i, r in by_slot.items() if r.span is not None}
    times = {i: rc.stage_times(r) for i, r in timed.items()}
    reached = {i: rc.stages_reached(r) for i, r in timed.items()}

    def current(i: int, values: list[Col]) -> Col:
        """The value of the last stage already passed, else of the first."""
        passed = reached[i]
        if len(passed) == 1:
            return values[0]
        whens = [(passed[k], values[k]) for k in range(len(passed) - 1, 0, -1)]
        return case(*whens, else_=values[0])

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
        ts, passed, n = times[i], reached[i], len(times[i])
        nxt = [(literal(r.stages[k + 1].action, String), ts[k + 1]) for k in range(n - 1)]
        whens: list[tuple[Col, Col]] = [(passed[n - 1], null())]
        whens += [(passed[k], nxt[k][pick]) for k in range(n - 2, 0, -1)]
        return body(r), case(*whens, else_=nxt[0][pick])

    def due(i: int, r: Rule) -> tuple[Any, Col] | None:
        return None if r.span is None else (r.span.text(), reached[i][0])

    def missing(i: int, r: Rule) -> tuple[Any, Col] | None:
        return None if r.span is None else (r.span.text(), rc.span_missing(r.span))

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
    )


def consent_needed(policy_set: PolicySet, cols: ColumnMap) -> Col:
    """False for the rows whose decision never reads a consent: join their consents not at all.

    Per policy, the rules before the first one whose condition or span names a consent decide
    their rows from the subject's own columns; a row one of them matches (first match wins)
    never reaches a consent, and a row no policy covers is an error. Put in the consent join's
    ON clause, this spares SQLite an index probe per such row (in random order, the largest
    cost of a selection); `cols.consent` is never read here.
    """
    from .linter import rule_purposes

    rc = _RuleCompiler(cols, bindparam("at", type_=NaiveUTC()))
    whens = []
    for policy in sorted(policy_set.policies.values(), key=lambda p: p.name):
        if not policy.countries:
            continue
        prefix: list[Col] = []
        reads_consent = False
        for rule in policy.rules:
            if rule_purposes([rule]):
                reads_consent = True
                break
            prefix.append(rc.condition(rule.condition))
        needed = not_(or_(*prefix)) if reads_consent and prefix else literal(reads_consent)
        whens.append((cols.country.in_(list(policy.countries)), needed))
    if not whens:
        return false()
    return case(*whens, else_=false())


def decision_select(
    policy_set: PolicySet,
    cols: ColumnMap,
    from_: Any,
    *,
    extra: tuple[Col, ...] = (),
    purposes: tuple[str, ...] = (),
    only_due: bool = False,
    where: Col | None = None,
    columns: Sequence[str] = DECISION_COLUMNS,
) -> Any:
    """One set-based SELECT of `extra` plus every decision column, bound to `at`.

    Two layers: a subquery the planner must not flatten (OFFSET 0) finds each row's deciding
    rule (slot) once, and the decision columns read it. Whether a row is due costs a few
    comparisons; the due_at arithmetic runs only for the rows and columns fetched.
    `purposes` lists the consent purposes `cols.consent` serves (see `purposes_used`);
    `where` restricts the rows considered (e.g. not yet anonymized); `columns` picks decision
    columns (a caller that needs no due_at should not make a GROUP BY compute it).
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
    compiled = compile_policies(policy_set, outer_cols, slot_column=c.policy_slot)
    query = select(*(c[e.name] for e in extra), *compiled.columns(columns))
    return query.where(compiled.due) if only_due else query
