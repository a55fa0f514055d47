"""The syntax tree of a policy file: frozen dataclasses that keep the line and column of each node.

Checks after parsing (the linter, the resolver) still point at the source, the way jinja's nodes
keep their line numbers. Names are kept as written; the linter validates them against the schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based line and column in the source file."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar duration such as `6 months`."""

    amount: int
    unit: str  # a schema.Unit value, plural
    pos: Pos

    def text(self) -> str:
        singular = self.unit[:-1]
        return f"{self.amount} {singular if self.amount == 1 else self.unit}"


@dataclass(frozen=True, slots=True)
class RecordAnchorRef:
    """`decided_at`: an event of the record itself."""

    name: str
    pos: Pos

    def text(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class ConsentAnchorRef:
    """`consent(talent_pool).expires_at`: an event of the latest consent for a purpose."""

    purpose: str
    field: str
    pos: Pos

    def text(self) -> str:
        return f"consent({self.purpose}).{self.field}"


Anchor = RecordAnchorRef | ConsentAnchorRef


@dataclass(frozen=True, slots=True)
class Offset:
    """`DURATION after ANCHOR`."""

    duration: Duration
    anchor: Anchor
    pos: Pos

    def text(self) -> str:
        return f"{self.duration.text()} after {self.anchor.text()}"


@dataclass(frozen=True, slots=True)
class AnchorTerm:
    """A bare anchor used as an instant (`until decided_at`)."""

    anchor: Anchor
    pos: Pos

    def text(self) -> str:
        return self.anchor.text()


Term = Offset | AnchorTerm


@dataclass(frozen=True, slots=True)
class Extremum:
    """`earliest of (...)` or `latest of (...)`: null terms are skipped."""

    kind: str  # "earliest" | "latest"
    terms: tuple[Term, ...]
    pos: Pos

    def text(self) -> str:
        return f"{self.kind} of ({', '.join(t.text() for t in self.terms)})"


Instant = Offset | AnchorTerm | Extremum


@dataclass(frozen=True, slots=True)
class StatusIn:
    """`status in (rejected, withdrawn)`."""

    statuses: tuple[str, ...]
    pos: Pos
    status_pos: tuple[Pos, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentIs:
    """`consent(talent_pool) given`."""

    purpose: str
    state: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition
    pos: Pos


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Condition, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Condition, ...]
    pos: Pos


Condition = StatusIn | ConsentIs | Not | And | Or


@dataclass(frozen=True, slots=True)
class Stage:
    """`then ACTION [after DURATION]`: due `after` the previous stage (the first at the span)."""

    action: str
    after: Duration | None
    pos: Pos


@dataclass(frozen=True, slots=True)
class Rule:
    """A named rule; `condition` None is the catch-all `default` rule."""

    name: str
    condition: Condition | None
    span: Instant | None  # None: kept forever
    stages: tuple[Stage, ...]
    cite: str | None
    pos: Pos
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class Reminder:
    """`remind DURATION after asking` or `remind DURATION before expiry`."""

    duration: Duration
    relative_to: str  # "ask" | "expiry"
    pos: Pos

    def text(self) -> str:
        where = "after asking" if self.relative_to == "ask" else "before expiry"
        return f"remind {self.duration.text()} {where}"


@dataclass(frozen=True, slots=True)
class Renewal:
    """`renewal PURPOSE`: how long its consent lasts, when renewal is asked and reminded.

    `on_silence` is what happens without an answer; only `expire` is lawful (GDPR Art. 4(11)
    and 7: consent is a clear affirmative act), the linter refuses `renew`.
    """

    purpose: str
    lasts: Duration
    ask: Duration  # before expiry
    reminders: tuple[Reminder, ...]
    on_silence: str  # "expire" | "renew" (refused by the linter)
    cite: str | None
    pos: Pos
    silence_pos: Pos | None = None


@dataclass(frozen=True, slots=True)
class PolicyNode:
    """One `policy` block as written."""

    name: str
    extends: str | None
    title: str | None
    countries: tuple[str, ...]
    country_pos: tuple[Pos, ...]
    authority: str | None
    effective: str | None
    rules: tuple[Rule, ...]
    pos: Pos
    extends_pos: Pos | None = None
    renewals: tuple[Renewal, ...] = ()


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` comment, kept for the formatter."""

    text: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """A parsed file: its policies, comments and the text they came from."""

    path: str
    text: str
    policies: tuple[PolicyNode, ...]
    comments: tuple[Comment, ...]
