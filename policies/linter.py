"""Checks that parsed policies make sense: names against the schema, and the shape of the chains.

Parsing only proves the text is well formed. The linter finds what would silently misbehave: a
misspelt status that never matches, a rule shadowed by an earlier one, a chain without `default`,
a country two policies claim, an `extends` cycle, a rule without its legal source. It reports
every finding of a run, each located like a syntax error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from itertools import product

from .errors import Diagnostic, diagnostic_at
from .inheritance import resolve_rules
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
    Or,
    PolicyFile,
    PolicyNode,
    Pos,
    Renewal,
    Rule,
    StatusIn,
)
from .schema import COUNTRIES, PURPOSES, ConsentField, RecordAnchor, Status

# Fewest and most days a calendar duration can span, to compare durations of different units.
_DAYS = {"days": (1, 1), "weeks": (7, 7), "months": (28, 31), "years": (365, 366)}
_MAX_CONSENT_YEARS = 10

SILENCE_REFUSED = (
    "silence never renews a consent: GDPR Art. 4(11) and 7 require a clear affirmative act;"
    " write on silence expire (or leave it out)"
)


def _days(d: Duration) -> tuple[int, int]:
    low, high = _DAYS[d.unit]
    return d.amount * low, d.amount * high


# Consent situations the truth table enumerates for each purpose a chain mentions.
_CONSENT_CASES = ("none", "given", "expired", "withdrawn")


def _conditions(cond: Condition | None) -> Iterable[Condition]:
    if cond is None:
        return
    yield cond
    if isinstance(cond, Not):
        yield from _conditions(cond.operand)
    elif isinstance(cond, And | Or):
        for c in cond.operands:
            yield from _conditions(c)


def _anchors(span: Instant | None) -> Iterable[tuple[Anchor, Pos]]:
    if span is None:
        return
    terms = span.terms if isinstance(span, Extremum) else (span,)
    for t in terms:
        assert isinstance(t, Offset | AnchorTerm)
        yield t.anchor, t.anchor.pos


def _holds(cond: Condition | None, status: str, consents: Mapping[str, str]) -> bool:
    """Does `cond` match a record in this situation (the linter's small truth table)?"""
    if cond is None:
        return True
    if isinstance(cond, StatusIn):
        return status in cond.statuses
    if isinstance(cond, ConsentIs):
        state = consents.get(cond.purpose, "none")
        if cond.state == "given":
            return state in ("given", "expired")
        return state == cond.state
    if isinstance(cond, Not):
        return not _holds(cond.operand, status, consents)
    results = (_holds(c, status, consents) for c in cond.operands)
    return all(results) if isinstance(cond, And) else any(results)


def _is_calendar_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _purposes(rules: Iterable[Rule]) -> list[str]:
    found = {c.purpose for r in rules for c in _conditions(r.condition) if isinstance(c, ConsentIs)}
    return sorted(found)


def _shadowed(rules: tuple[Rule, ...]) -> list[tuple[Rule, Rule | None]]:
    """Rules that can never match because earlier rules catch all their records."""
    purposes = _purposes(rules)
    situations = [
        (status, dict(zip(purposes, states, strict=True)))
        for status in [*(s.value for s in Status), "?"]
        for states in product(_CONSENT_CASES, repeat=len(purposes))
    ]
    found = []
    for i, rule in enumerate(rules):
        matching = [s for s in situations if _holds(rule.condition, *s)]
        earlier = rules[:i]
        if matching and all(any(_holds(e.condition, *s) for e in earlier) for s in matching):
            catcher = next(
                (e for e in earlier if all(_holds(e.condition, *s) for s in matching)), None
            )
            found.append((rule, catcher))
    return found


class _Linter:
    def __init__(self, files: tuple[PolicyFile, ...]) -> None:
        self.files = files
        self.found: list[Diagnostic] = []
        self.nodes: dict[str, tuple[PolicyNode, PolicyFile]] = {}

    def report(self, f: PolicyFile, pos: Pos, message: str) -> None:
        self.found.append(diagnostic_at(f.path, f.text, pos.line, pos.column, message))

    def run(self) -> tuple[Diagnostic, ...]:
        claimed: dict[str, str] = {}
        for f in self.files:
            if not f.policies:
                # An empty or comments-only file would pass as "Policies OK." and cover no one.
                self.report(f, Pos(1, 1), "the file defines no policy")
            for p in f.policies:
                if p.effective is not None and not _is_calendar_date(p.effective):
                    self.report(
                        f, p.pos, f"policy {p.name}: effective {p.effective} is not a calendar date"
                    )
                if p.name in self.nodes:
                    other = self.nodes[p.name][1].path
                    self.report(f, p.pos, f"policy {p.name} is already defined in {other}")
                    continue
                self.nodes[p.name] = (p, f)
        for p, f in self.nodes.values():
            for code, pos in zip(p.countries, p.country_pos, strict=True):
                if code not in COUNTRIES:
                    self.report(f, pos, f"unknown country code {code} (not ISO 3166-1 alpha-2)")
                elif code in claimed:
                    self.report(
                        f, pos, f"country {code} is already claimed by policy {claimed[code]}"
                    )
                else:
                    claimed[code] = p.name
            self.check_extends(p, f)
            self.check_rules(p, f)
            self.check_renewals(p, f)
        for p, f in self.nodes.values():
            self.check_chain(p, f)
        return tuple(self.found)

    def check_extends(self, p: PolicyNode, f: PolicyFile) -> None:
        if p.extends is None:
            return
        pos = p.extends_pos or p.pos
        if p.extends not in self.nodes:
            self.report(f, pos, f"policy {p.name} extends unknown policy {p.extends}")
            return
        seen: list[str] = [p.name]
        name: str | None = p.extends
        while name is not None and name in self.nodes:
            if name in seen:
                cycle = " -> ".join([*seen, name])
                self.report(f, pos, f"extends cycle: {cycle}")
                return
            seen.append(name)
            name = self.nodes[name][0].extends

    def check_rules(self, p: PolicyNode, f: PolicyFile) -> None:
        names: dict[str, Rule] = {}
        for rule in p.rules:
            if rule.name in names:
                first = names[rule.name].pos.line
                self.report(
                    f, rule.pos, f"duplicate rule {rule.name} (first defined on line {first})"
                )
            names.setdefault(rule.name, rule)
            if rule.cite is None:
                self.report(f, rule.pos, f'rule {rule.name} has no cite "..." (its legal source)')
            for cond in _conditions(rule.condition):
                if isinstance(cond, StatusIn):
                    for status, pos in zip(cond.statuses, cond.status_pos, strict=True):
                        if status not in Status.__members__.values():
                            known = ", ".join(s.value for s in Status)
                            self.report(f, pos, f"unknown status {status} (known: {known})")
                elif isinstance(cond, ConsentIs):
                    self.check_purpose(f, cond.purpose, cond.pos)
            for anchor, pos in _anchors(rule.span):
                if isinstance(anchor, ConsentAnchorRef):
                    self.check_purpose(f, anchor.purpose, pos)
                    if anchor.field not in ConsentField.__members__.values():
                        known = ", ".join(c.value for c in ConsentField)
                        self.report(
                            f, pos, f"unknown consent anchor {anchor.field} (known: {known})"
                        )
                elif anchor.name not in RecordAnchor.__members__.values():
                    known = ", ".join(a.value for a in RecordAnchor)
                    self.report(
                        f,
                        pos,
                        f"unknown anchor {anchor.name} (known: {known}, consent(PURPOSE).FIELD)",
                    )
            if rule.stages and rule.stages[0].after is not None:
                self.report(
                    f,
                    rule.stages[0].pos,
                    "the first stage falls due when the retention ends;"
                    " put after only on later stages",
                )

    def check_renewals(self, p: PolicyNode, f: PolicyFile) -> None:
        seen: dict[str, Renewal] = {}
        for r in p.renewals:
            if r.purpose in seen:
                first = seen[r.purpose].pos.line
                self.report(
                    f, r.pos, f"duplicate renewal {r.purpose} (first defined on line {first})"
                )
            seen.setdefault(r.purpose, r)
            self.check_purpose(f, r.purpose, r.pos)
            if r.cite is None:
                self.report(f, r.pos, f'renewal {r.purpose} has no cite "..." (its legal source)')
            if r.on_silence != "expire":
                self.report(f, r.silence_pos or r.pos, f"renewal {r.purpose}: {SILENCE_REFUSED}")
            lasts_low, lasts_high = _days(r.lasts)
            if lasts_high > _MAX_CONSENT_YEARS * 366:
                self.report(
                    f,
                    r.lasts.pos,
                    f"renewal {r.purpose}: a consent lasts at most {_MAX_CONSENT_YEARS} years",
                )
            ask_low, ask_high = _days(r.ask)
            if ask_high >= lasts_low:
                self.report(
                    f,
                    r.ask.pos,
                    f"renewal {r.purpose}: ask {r.ask.text()} before expiry is not within"
                    f" a consent that lasts {r.lasts.text()}",
                )
            for reminder in r.reminders:
                _, high = _days(reminder.duration)
                if high >= ask_low:
                    where = "after asking" if reminder.relative_to == "ask" else "before expiry"
                    self.report(
                        f,
                        reminder.pos,
                        f"renewal {r.purpose}: a reminder {reminder.duration.text()} {where}"
                        f" does not fall between the ask ({r.ask.text()} before expiry)"
                        " and the expiry",
                    )
            texts = [x.text() for x in r.reminders]
            for i, text in enumerate(texts):
                if text in texts[:i]:
                    self.report(f, r.reminders[i].pos, f"renewal {r.purpose}: {text} twice")

    def check_purpose(self, f: PolicyFile, purpose: str, pos: Pos) -> None:
        if purpose not in PURPOSES:
            known = ", ".join(sorted(PURPOSES))
            self.report(f, pos, f"unknown consent purpose {purpose} (known: {known})")

    def check_chain(self, p: PolicyNode, f: PolicyFile) -> None:
        if self.in_cycle(p):
            return
        by_name = {n: node for n, (node, _) in self.nodes.items()}
        rules = resolve_rules(p, by_name)
        if not any(r.is_default for r in rules):
            self.report(f, p.pos, f"policy {p.name}: its chain has no default rule")
        own = {id(r) for r in p.rules}
        for rule, catcher in _shadowed(rules):
            if id(rule) not in own and (catcher is None or id(catcher) not in own):
                continue  # the parent policy already reports it
            where = f, rule.pos
            if id(rule) not in own:  # inherited: report it on the policy that shadows it
                where = f, p.pos
            by = f" (rule {catcher.name} catches all its records)" if catcher else ""
            self.report(*where, f"policy {p.name}: rule {rule.name} can never match{by}")

    def in_cycle(self, p: PolicyNode) -> bool:
        seen: set[str] = set()
        name: str | None = p.name
        while name is not None and name in self.nodes:
            if name in seen:
                return True
            seen.add(name)
            name = self.nodes[name][0].extends
        return False


def lint(files: Iterable[PolicyFile]) -> tuple[Diagnostic, ...]:
    """Every finding in these files, in file order; empty when the policies are sound."""
    return _Linter(tuple(files)).run()


def rule_purposes(rules: Iterable[Rule]) -> set[str]:
    """Every consent purpose named in the conditions or anchors of these rules."""
    found = set(_purposes(rules))
    for rule in rules:
        for anchor, _ in _anchors(rule.span):
            if isinstance(anchor, ConsentAnchorRef):
                found.add(anchor.purpose)
    return found
