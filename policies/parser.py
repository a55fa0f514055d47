"""Parse policy text into the frozen syntax tree, with errors a DPO can act on.

The grammar lives in policy.lark (LALR, positions propagated). Every failure becomes one
`PolicySyntaxError` with file, line, column, the source line, a caret and what was expected there;
common mistakes are recognised with lark's `match_examples` and explained in words.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .errors import PolicySyntaxError, diagnostic_at
from .nodes import (
    AnchorTerm,
    And,
    Comment,
    ConsentAnchorRef,
    ConsentIs,
    Duration,
    Extremum,
    Not,
    Offset,
    Or,
    PolicyFile,
    PolicyNode,
    Pos,
    RecordAnchorRef,
    Reminder,
    Renewal,
    Rule,
    Stage,
    StatusIn,
)

# How each terminal is named to a user; keyword terminals are shown as the quoted keyword.
_TERMINAL_WORDS = {
    "POLICY_NAME": "a policy name (e.g. NL)",
    "COUNTRY": "a country code (e.g. NL)",
    "NAME": "a name",
    "STRING": 'a quoted string ("...")',
    "DATE": "a date (YYYY-MM-DD)",
    "INT": "a number",
    "UNIT": "a unit (days, weeks, months, years)",
    "ACTION": "an action (anonymize, delete, block, review, keep)",
    "CONSENT_STATE": "a consent state (given, withdrawn, expired)",
    "SILENCE": "what silence does (expire)",
    "$END": "end of file",
}

# Snippets that fail at the same parser state as a common mistake, and what to say about it.
_MISTAKES: dict[str, list[str]] = {
    'a citation is a quoted string, e.g. cite "GDPR Art. 17"': [
        "policy X default keep cite GDPR",
        "policy X default keep cite gdpr",
        "policy X default keep cite 17",
    ],
    "a status test is written status in (rejected, withdrawn)": [
        "policy X rule r when status rejected",
        "policy X rule r when status = rejected",
        "policy X rule r when status is",
    ],
    "a retention needs an action: add a stage such as then delete": [
        "policy X default keep 1 day after decided_at cite",
        "policy X default keep until decided_at cite",
        "policy X default keep 1 day after decided_at rule",
        "policy X default keep 1 day after decided_at default",
        "policy X default keep 1 day after decided_at",
    ],
    "a rule needs a condition (when ...); the catch-all rule is written default": [
        "policy X rule r keep",
    ],
    "country codes are upper-case ISO 3166-1 alpha-2 codes, e.g. NL": [
        "policy X countries nl",
    ],
    "a duration is a number and a unit, e.g. 6 months": [
        "policy X default keep months",
        "policy X default keep 6 after",
    ],
}


_COMMENTS: ContextVar[list[Token] | None] = ContextVar("policy_comments", default=None)
"""Where the parse under way (in this thread or task) collects the comments its lexer skips."""


def _comment(token: Token) -> Token:
    sink = _COMMENTS.get()
    if sink is not None:
        sink.append(token)
    return token


@cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("policy.lark").read_text(encoding="utf-8")
    # The grammar ignores comments; the lexer hands each to `_comment` as it skips it, so one
    # pass collects them for the formatter (lexing again with nothing ignored built a new lexer
    # for every file, and took a third of loading a policy set).
    return Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
        lexer_callbacks={"COMMENT": _comment},
    )


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    try:
        pattern = _parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return f'"{pattern.value}"' if pattern.type == "str" else terminal.lower()


def _expected(names: set[str]) -> str:
    words = sorted({_describe(n) for n in names if n not in ("WS", "COMMENT")})
    if not words:
        return "nothing more"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _found(err: UnexpectedInput, text: str) -> str:
    if isinstance(err, UnexpectedToken):
        return "end of file" if err.token.type == "$END" else repr(str(err.token))
    if isinstance(err, UnexpectedCharacters):
        at = err.pos_in_stream
        return repr(text[at]) if at is not None and at < len(text) else "end of file"
    return "end of file"


def _syntax_error(err: UnexpectedInput, path: str, text: str) -> PolicySyntaxError:
    if isinstance(err, UnexpectedToken):
        expected: set[str] = set(err.accepts or err.expected)
    elif isinstance(err, UnexpectedCharacters):
        expected = set(err.allowed or ())
    elif isinstance(err, UnexpectedEOF):
        expected = set(err.expected)
    else:  # pragma: no cover - lark has no other UnexpectedInput kinds
        expected = set()
    message = f"expected {_expected(expected)}, found {_found(err, text)}"
    try:
        hint = err.match_examples(_parser().parse, _MISTAKES, use_accepts=True)
    except Exception:
        hint = None
    if hint:
        message = f"{message}: {hint}"
    line = getattr(err, "line", -1)
    column = getattr(err, "column", -1)
    at_end = isinstance(err, UnexpectedEOF) or (
        isinstance(err, UnexpectedToken) and err.token.type == "$END"
    )
    if at_end or line is None or line < 1:  # point just past the last written character
        lines = text.rstrip().splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    return PolicySyntaxError(diagnostic_at(path, text, line, column, message))


def _pos(item: Any) -> Pos:
    if isinstance(item, Token):
        return Pos(item.line or 1, item.column or 1)
    return Pos(item.line, item.column)


_UNITS = {"day": "days", "week": "weeks", "month": "months", "year": "years"}


@v_args(meta=True)
class _ToNodes(Transformer[Token, Any]):
    """Turn the lark tree into frozen nodes, keeping the position of each."""

    def start(self, meta: Any, children: list[PolicyNode]) -> tuple[PolicyNode, ...]:
        return tuple(children)

    def policy(self, meta: Any, children: list[Any]) -> PolicyNode:
        name = children[0]
        extends = extends_pos = title = authority = effective = None
        countries: list[Token] = []
        rules: list[Rule] = []
        renewals: list[Renewal] = []
        for child in children[1:]:
            if isinstance(child, Rule):
                rules.append(child)
            elif isinstance(child, Renewal):
                renewals.append(child)
            elif isinstance(child, Token) and child.type == "STRING":
                title = child[1:-1]
            elif child[0] == "extends":
                extends, extends_pos = str(child[1]), _pos(child[1])
            elif child[0] == "countries":
                countries.extend(child[1])
            elif child[0] == "authority":
                authority = child[1]
            elif child[0] == "effective":
                effective = child[1]
        return PolicyNode(
            name=str(name),
            extends=extends,
            title=title,
            countries=tuple(str(c) for c in countries),
            country_pos=tuple(_pos(c) for c in countries),
            authority=authority,
            effective=effective,
            rules=tuple(rules),
            pos=_pos(meta),
            extends_pos=extends_pos,
            renewals=tuple(renewals),
        )

    def extends_clause(self, meta: Any, children: list[Token]) -> tuple[str, Token]:
        return ("extends", children[0])

    def countries(self, meta: Any, children: list[Token]) -> tuple[str, list[Token]]:
        return ("countries", children)

    def authority(self, meta: Any, children: list[Token]) -> tuple[str, str]:
        return ("authority", children[0][1:-1])

    def effective(self, meta: Any, children: list[Token]) -> tuple[str, str]:
        return ("effective", str(children[0]))

    def rule(self, meta: Any, children: list[Any]) -> Rule:
        name, condition, body = children[0], children[1], children[2]
        cite = children[3] if len(children) > 3 else None
        span, stages = body
        return Rule(str(name), condition, span, stages, cite, _pos(meta))

    def default_rule(self, meta: Any, children: list[Any]) -> Rule:
        span, stages = children[0]
        cite = children[1] if len(children) > 1 else None
        return Rule("default", None, span, stages, cite, _pos(meta), is_default=True)

    def when(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def or_cond(self, meta: Any, children: list[Any]) -> Or:
        return Or(tuple(children), _pos(meta))

    def and_cond(self, meta: Any, children: list[Any]) -> And:
        return And(tuple(children), _pos(meta))

    def negation(self, meta: Any, children: list[Any]) -> Not:
        return Not(children[0], _pos(meta))

    def status_in(self, meta: Any, children: list[Token]) -> StatusIn:
        return StatusIn(
            tuple(str(c) for c in children), _pos(meta), tuple(_pos(c) for c in children)
        )

    def consent_is(self, meta: Any, children: list[Token]) -> ConsentIs:
        return ConsentIs(str(children[0]), str(children[1]), _pos(meta))

    def keep_forever(self, meta: Any, children: list[Any]) -> tuple[None, tuple[Stage, ...]]:
        return (None, ())

    def keep_for(self, meta: Any, children: list[Any]) -> tuple[Any, tuple[Stage, ...]]:
        return (children[0], tuple(children[1:]))

    keep_until = keep_for

    def offset(self, meta: Any, children: list[Any]) -> Offset:
        return Offset(children[0], children[1], _pos(meta))

    def anchor_term(self, meta: Any, children: list[Any]) -> AnchorTerm:
        return AnchorTerm(children[0], _pos(meta))

    def earliest(self, meta: Any, children: list[Any]) -> Extremum:
        return Extremum("earliest", tuple(children), _pos(meta))

    def latest(self, meta: Any, children: list[Any]) -> Extremum:
        return Extremum("latest", tuple(children), _pos(meta))

    def record_anchor(self, meta: Any, children: list[Token]) -> RecordAnchorRef:
        return RecordAnchorRef(str(children[0]), _pos(meta))

    def consent_anchor(self, meta: Any, children: list[Token]) -> ConsentAnchorRef:
        return ConsentAnchorRef(str(children[0]), str(children[1]), _pos(meta))

    def duration(self, meta: Any, children: list[Token]) -> Duration:
        unit = str(children[1])
        return Duration(int(children[0]), _UNITS.get(unit, unit), _pos(meta))

    def stage(self, meta: Any, children: list[Any]) -> Stage:
        after = children[1] if len(children) > 1 else None
        return Stage(str(children[0]), after, _pos(meta))

    def cite(self, meta: Any, children: list[Token]) -> str:
        return children[0][1:-1]

    def renewal(self, meta: Any, children: list[Any]) -> Renewal:
        purpose, lasts, ask = str(children[0]), children[1], children[2]
        reminders = tuple(c for c in children[3:] if isinstance(c, Reminder))
        silence = next((c for c in children[3:] if isinstance(c, Token)), None)
        cite = next(
            (c for c in children[3:] if isinstance(c, str) and not isinstance(c, Token)), None
        )
        return Renewal(
            purpose=purpose,
            lasts=lasts,
            ask=ask,
            reminders=reminders,
            on_silence=str(silence) if silence is not None else "expire",
            cite=cite,
            pos=_pos(meta),
            silence_pos=_pos(silence) if silence is not None else None,
        )

    def ask(self, meta: Any, children: list[Any]) -> Duration:
        duration: Duration = children[0]
        return duration

    def remind_after_ask(self, meta: Any, children: list[Any]) -> Reminder:
        return Reminder(children[0], "ask", _pos(meta))

    def remind_before_expiry(self, meta: Any, children: list[Any]) -> Reminder:
        return Reminder(children[0], "expiry", _pos(meta))

    def silence(self, meta: Any, children: list[Token]) -> Token:
        return children[0]


def parse(text: str, path: str = "<policy>") -> PolicyFile:
    """Parse one policy file; raises PolicySyntaxError with a location on any failure."""
    skipped: list[Token] = []
    collecting = _COMMENTS.set(skipped)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        _COMMENTS.reset(collecting)  # the error's examples are parsed without collecting
        raise _syntax_error(err, path, text) from None
    _COMMENTS.reset(collecting)
    # Comments are ignored by the grammar; kept with their positions for the formatter.
    comments = [Comment(str(token), _pos(token)) for token in skipped]
    policies = _ToNodes().transform(tree)
    return PolicyFile(path=path, text=text, policies=policies, comments=tuple(comments))
