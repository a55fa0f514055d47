"""Pure evaluation of one record against the policy set: which rule decides it, what is due, when.

This is the reference meaning of the language (the SQL compiler must select the same records).
Rules are compiled once into small closures so that evaluation runs at hundreds of thousands of
records per second; a record that cannot be decided gets a typed error result naming the cause,
never a silent keep or delete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from operator import attrgetter

from .durations import shifter
from .model import Policy, PolicySet
from .nodes import (
    Anchor,
    AnchorTerm,
    And,
    Condition,
    ConsentAnchorRef,
    ConsentIs,
    Extremum,
    Instant,
    Not,
    Offset,
    Or,
    Rule,
    StatusIn,
)
from .records import Record, format_instant
from .schema import Action, ConsentState


class ErrorCause(StrEnum):
    """Why a record could not be decided."""

    UNCOVERED_COUNTRY = "uncovered_country"
    MISSING_ANCHOR = "missing_anchor"


@dataclass(frozen=True, slots=True)
class NextStage:
    """The stage after the current one."""

    action: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """The deciding rule and its current stage: the last one already due, else the first."""

    id: str
    policy: str
    rule: str
    action: str
    due_at: datetime | None
    due: bool
    cite: str | None
    next: NextStage | None
    held: bool = False

    def to_json(self) -> dict[str, object]:
        """The line `gdpr policy evaluate --json` prints (`held` only when a hold applies)."""
        out: dict[str, object] = {
            "id": self.id,
            "policy": self.policy,
            "rule": self.rule,
            "action": self.action,
            "due_at": format_instant(self.due_at),
            "due": self.due,
            "cite": self.cite,
            "next": None
            if self.next is None
            else {"action": self.next.action, "due_at": format_instant(self.next.due_at)},
        }
        if self.held:
            out["held"] = True
        return out


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record the policies cannot decide; `detail` names the country or the missing anchor."""

    id: str
    cause: ErrorCause
    detail: str
    policy: str | None = None
    rule: str | None = None

    @property
    def message(self) -> str:
        if self.cause is ErrorCause.UNCOVERED_COUNTRY:
            return f"no policy covers country {self.detail}"
        return f"rule {self.policy}/{self.rule} needs {self.detail}, which the record lacks"

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "error": self.message}


Outcome = Decision | RecordError
Check = Callable[[Record, datetime], bool]
Getter = Callable[[Record], datetime | None]


class MissingAnchor(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


def compile_condition(cond: Condition | None) -> Check:
    """A closure testing the condition; None (the default rule) always matches."""
    if cond is None:
        return lambda r, at: True
    if isinstance(cond, StatusIn):
        statuses = frozenset(cond.statuses)
        return lambda r, at: r.status in statuses
    if isinstance(cond, ConsentIs):
        return _consent_check(cond.purpose, cond.state)
    if isinstance(cond, Not):
        inner = compile_condition(cond.operand)
        return lambda r, at: not inner(r, at)
    parts = tuple(compile_condition(c) for c in cond.operands)
    if isinstance(cond, And):
        return lambda r, at: all(p(r, at) for p in parts)
    assert isinstance(cond, Or)
    return lambda r, at: any(p(r, at) for p in parts)


def _consent_check(purpose: str, state: str) -> Check:
    def given(r: Record, at: datetime) -> bool:
        c = r.latest_consent(purpose)
        return c is not None and c.withdrawn_at is None

    def withdrawn(r: Record, at: datetime) -> bool:
        c = r.latest_consent(purpose)
        return c is not None and c.withdrawn_at is not None

    def expired(r: Record, at: datetime) -> bool:
        c = r.latest_consent(purpose)
        return (
            c is not None
            and c.withdrawn_at is None
            and c.expires_at is not None
            and c.expires_at <= at
        )

    checks: dict[str, Check] = {ConsentState.GIVEN: given, ConsentState.WITHDRAWN: withdrawn}
    return checks.get(state, expired)


def anchor_getter(anchor: Anchor) -> Getter:
    """Read an anchor of a record (a consent anchor from the consent given last)."""
    if isinstance(anchor, ConsentAnchorRef):
        purpose, field = anchor.purpose, attrgetter(anchor.field)

        def consent_anchor(r: Record) -> datetime | None:
            c = r.latest_consent(purpose)
            return None if c is None else field(c)

        return consent_anchor
    return attrgetter(anchor.name)


def _term_getter(term: Offset | AnchorTerm) -> Getter:
    base = anchor_getter(term.anchor)
    if isinstance(term, AnchorTerm):
        return base
    shift = shifter(term.duration.amount, term.duration.unit)

    def shifted(r: Record) -> datetime | None:
        value = base(r)
        return None if value is None else shift(value)

    return shifted


def compile_span(span: Instant) -> Callable[[Record], datetime]:
    """The instant the first stage falls due; raises MissingAnchor naming what is missing."""
    if isinstance(span, Extremum):
        getters = tuple(_term_getter(t) for t in span.terms)
        pick = min if span.kind == "earliest" else max
        detail = f"one of the anchors of {span.text()}"

        def extremum(r: Record) -> datetime:
            values = [v for g in getters if (v := g(r)) is not None]
            if not values:
                raise MissingAnchor(detail)
            return pick(values)

        return extremum
    getter, detail = _term_getter(span), span.anchor.text()

    def single(r: Record) -> datetime:
        value = getter(r)
        if value is None:
            raise MissingAnchor(detail)
        return value

    return single


@dataclass(frozen=True, slots=True)
class CompiledRule:
    policy: str
    rule: Rule
    matches: Check
    span: Callable[[Record], datetime] | None
    stages: tuple[tuple[str, Callable[[datetime], datetime] | None], ...]  # (action, shift)


def compile_rule(policy: Policy, rule: Rule) -> CompiledRule:
    stages = tuple(
        (s.action, shifter(s.after.amount, s.after.unit) if s.after else None) for s in rule.stages
    )
    span = compile_span(rule.span) if rule.span is not None else None
    return CompiledRule(policy.name, rule, compile_condition(rule.condition), span, stages)


def stage_times(rule: CompiledRule, start: datetime) -> list[datetime]:
    """Due instants of each stage: the first at `start`, each next one after the previous."""
    times = [start]
    for _, shift in rule.stages[1:]:
        times.append(shift(times[-1]) if shift else times[-1])
    return times


class Evaluator:
    """Decides records against one PolicySet; build once, call `evaluate` per record."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set
        compiled = {
            name: tuple(compile_rule(p, r) for r in p.rules)
            for name, p in policy_set.policies.items()
        }
        self._by_country = {c: compiled[p.name] for c, p in policy_set.by_country.items()}

    def deciding_rule(self, record: Record, at: datetime) -> CompiledRule | None:
        """The first rule whose condition matches, None when no policy covers the country."""
        if record.country is None:
            return None
        for rule in self._by_country.get(record.country, ()):
            if rule.matches(record, at):
                return rule
        return None

    def evaluate(self, record: Record, at: datetime) -> Outcome:
        """The decision for `record` at instant `at` (aware UTC), or a typed error."""
        rule = self.deciding_rule(record, at)
        if rule is None:
            return RecordError(record.id, ErrorCause.UNCOVERED_COUNTRY, str(record.country))
        held = bool(record.holds) and any(h.active(at) for h in record.holds)
        name, cite = rule.rule.name, rule.rule.cite
        if rule.span is None:
            return Decision(
                record.id, rule.policy, name, Action.KEEP, None, False, cite, None, held
            )
        try:
            start = rule.span(record)
        except MissingAnchor as missing:
            return RecordError(
                record.id, ErrorCause.MISSING_ANCHOR, missing.detail, rule.policy, name
            )
        stages = rule.stages
        if len(stages) == 1:  # the common case: one stage, no next
            due = start <= at and not held
            return Decision(
                record.id, rule.policy, name, stages[0][0], start, due, cite, None, held
            )
        times = stage_times(rule, start)
        current = 0
        for i in range(len(times) - 1, 0, -1):
            if times[i] <= at:
                current = i
                break
        nxt = None
        if current + 1 < len(times):
            nxt = NextStage(stages[current + 1][0], times[current + 1])
        return Decision(
            record.id,
            rule.policy,
            name,
            stages[current][0],
            times[current],
            times[current] <= at and not held,
            cite,
            nxt,
            held,
        )


def evaluator_for(policy_set: PolicySet) -> Evaluator:
    """The Evaluator of a PolicySet, built once and cached on it."""
    cached = policy_set._compiled.get("evaluator")
    if not isinstance(cached, Evaluator):
        cached = policy_set._compiled["evaluator"] = Evaluator(policy_set)
    return cached


def evaluate(policy_set: PolicySet, record: Record, at: datetime) -> Outcome:
    """Decide one record at instant `at` (aware UTC)."""
    return evaluator_for(policy_set).evaluate(record, at)
