"""Why a record gets its decision: every rule tried in order, why it matched or not, the arithmetic.

A DPO answering "why was this deleted?" (or an auditor) needs the reasoning, not just the outcome.
This walks the same resolved rules the evaluator compiles, in words, and ends with its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .evaluator import Outcome, RecordError, anchor_getter, evaluator_for
from .formatter import format_condition
from .model import PolicySet
from .nodes import Condition, ConsentIs, Extremum, Instant, Not, Offset, StatusIn
from .records import Record, format_instant
from .renewals import renewal_dates, renewal_text


@dataclass(frozen=True, slots=True)
class Explanation:
    """The trace lines and the outcome they lead to."""

    outcome: Outcome
    lines: tuple[str, ...]

    def text(self) -> str:
        return "\n".join(self.lines)


def _why(cond: Condition, record: Record, at: datetime) -> str:
    if isinstance(cond, StatusIn):
        return f"status is {record.status}"
    if isinstance(cond, ConsentIs):
        c = record.latest_consent(cond.purpose)
        if c is None:
            return f"no consent for {cond.purpose}"
        state = "withdrawn" if c.withdrawn_at else "given"
        if c.withdrawn_at is None and c.expires_at is not None and c.expires_at <= at:
            state = "given, expired"
        return f"consent({cond.purpose}) given {format_instant(c.given_at)} is {state}"
    if isinstance(cond, Not):
        return _why(cond.operand, record, at)
    return "; ".join(_why(c, record, at) for c in cond.operands)


def _arithmetic(span: Instant, record: Record) -> list[str]:
    terms = span.terms if isinstance(span, Extremum) else (span,)
    lines = []
    for t in terms:
        value = anchor_getter(t.anchor)(record)
        shown = format_instant(value) if value else "null (skipped)"
        if isinstance(t, Offset):
            lines.append(f"    {t.anchor.text()} = {shown}, + {t.duration.text()}")
        else:
            lines.append(f"    {t.anchor.text()} = {shown}")
    if isinstance(span, Extremum):
        lines.append(f"    {span.kind} of the non-null terms")
    return lines


def explain(policy_set: PolicySet, record: Record, at: datetime) -> Explanation:
    """Trace the decision of `record` at `at`."""
    outcome = evaluator_for(policy_set).evaluate(record, at)
    lines = [f"subject {record.id} at {format_instant(at)}, policy set {policy_set.content_hash}"]
    policy = policy_set.policy_for(record.country)
    if policy is None:
        lines.append(f"no policy covers country {record.country}: error")
        return Explanation(outcome, tuple(lines))
    lines.append(f"country {record.country}: policy {policy.name} ({' -> '.join(policy.chain)})")
    for rule in policy.rules:
        matched = evaluator_for(policy_set).deciding_rule(record, at)
        is_it = matched is not None and matched.rule is rule
        if rule.condition is None:
            lines.append(f"  rule {rule.name}: catch-all, matches")
        else:
            text = format_condition(rule.condition)
            verdict = "matches" if is_it else "does not match"
            lines.append(
                f"  rule {rule.name}: when {text} {verdict} ({_why(rule.condition, record, at)})"
            )
        if is_it:
            if rule.span is not None:
                lines.extend(_arithmetic(rule.span, record))
            break
    if isinstance(outcome, RecordError):
        lines.append(f"error: {outcome.message}")
    else:
        due = "due" if outcome.due else "not due"
        lines.append(
            f"decision: {outcome.action} at {format_instant(outcome.due_at) or 'never'} ({due})"
            f'; cite "{outcome.cite}"'
        )
        if outcome.next is not None:
            lines.append(f"next: {outcome.next.action} at {format_instant(outcome.next.due_at)}")
        if outcome.held:
            lines.append("held: a legal hold is active, every action is suspended")
    for renewal in policy.renewals:
        lines.append(renewal_text(renewal))
        consent = record.latest_consent(renewal.purpose)
        if consent is not None and consent.expires_at is not None and consent.withdrawn_at is None:
            dates = renewal_dates(renewal, consent.expires_at)
            reminders = ", ".join(str(format_instant(d)) for d in dates.reminders if d is not None)
            lines.append(
                f"    asks at {format_instant(dates.ask_at)}"
                + (f", reminds at {reminders}" if reminders else "")
                + f", expires at {format_instant(dates.expires_at)}"
            )
    return Explanation(outcome, tuple(lines))
