"""The canonical layout of policy files: one way to write each construct, comments kept.

A DPO reviews policy changes as diffs; one layout makes the diff show meaning, not whitespace.
The content hash of a PolicySet is taken over this layout, so reformatting never changes it.
Formatting is idempotent: formatting formatted text gives the same text.
"""

from __future__ import annotations

from .nodes import Condition, ConsentIs, Not, Or, PolicyFile, PolicyNode, Renewal, Rule, StatusIn

_INDENT = "  "


def format_condition(cond: Condition, parent: int = 0) -> str:
    """Render a condition with the fewest parentheses that keep its meaning (or < and < not)."""
    if isinstance(cond, StatusIn):
        return f"status in ({', '.join(cond.statuses)})"
    if isinstance(cond, ConsentIs):
        return f"consent({cond.purpose}) {cond.state}"
    if isinstance(cond, Not):
        return "not " + format_condition(cond.operand, 3)
    level, word = (1, " or ") if isinstance(cond, Or) else (2, " and ")
    text = word.join(format_condition(c, level) for c in cond.operands)
    return f"({text})" if parent >= level else text


def _rule_lines(rule: Rule) -> list[tuple[int, int, str]]:
    line = rule.pos.line
    head = "default" if rule.is_default else f"rule {rule.name}"
    out = [(line, 1, head)]
    if rule.condition is not None:
        out.append((rule.condition.pos.line, 2, "when " + format_condition(rule.condition)))
    if rule.span is None:
        out.append((line, 2, "keep forever"))
    else:
        text = rule.span.text()
        keep = f"keep {text}" if text[0].isdigit() else f"keep until {text}"
        out.append((rule.span.pos.line, 2, keep))
    for stage in rule.stages:
        after = f" after {stage.after.text()}" if stage.after else ""
        out.append((stage.pos.line, 2, f"then {stage.action}{after}"))
    if rule.cite is not None:
        out.append((out[-1][0], 2, f'cite "{rule.cite}"'))
    return out


def _renewal_lines(renewal: Renewal) -> list[tuple[int, int, str]]:
    line = renewal.pos.line
    out = [
        (line, 1, f"renewal {renewal.purpose}"),
        (renewal.lasts.pos.line, 2, f"consent lasts {renewal.lasts.text()}"),
        (renewal.ask.pos.line, 2, f"ask {renewal.ask.text()} before expiry"),
    ]
    out.extend((r.pos.line, 2, r.text()) for r in renewal.reminders)
    if renewal.silence_pos is not None:
        out.append((renewal.silence_pos.line, 2, f"on silence {renewal.on_silence}"))
    if renewal.cite is not None:
        out.append((out[-1][0], 2, f'cite "{renewal.cite}"'))
    return out


def _policy_lines(policy: PolicyNode) -> list[tuple[int | None, int, str]]:
    head = f"policy {policy.name}"
    if policy.extends:
        head += f" extends {policy.extends}"
    if policy.title is not None:
        head += f' "{policy.title}"'
    line = policy.pos.line
    out: list[tuple[int | None, int, str]] = [(line, 0, head)]
    if policy.countries:
        out.append((policy.country_pos[0].line, 1, "countries " + ", ".join(policy.countries)))
    if policy.authority is not None:
        out.append((None, 1, f'authority "{policy.authority}"'))
    if policy.effective is not None:
        out.append((None, 1, f"effective {policy.effective}"))
    blocks: list[tuple[int, list[tuple[int, int, str]]]] = [
        (r.pos.line, _rule_lines(r)) for r in policy.rules
    ]
    blocks += [(r.pos.line, _renewal_lines(r)) for r in policy.renewals]
    for _, lines in sorted(blocks, key=lambda b: b[0]):
        out.append((None, 0, ""))
        out.extend(lines)
    return out


def format_file(parsed: PolicyFile) -> str:
    """The canonical text of a parsed file."""
    items: list[tuple[int | None, int, str]] = []
    for i, policy in enumerate(parsed.policies):
        if i:
            items.append((None, 0, ""))
        items.extend(_policy_lines(policy))
    source_lines = parsed.text.splitlines()
    own_line = []
    trailing: dict[int, list[str]] = {}
    for c in parsed.comments:
        before = source_lines[c.pos.line - 1][: c.pos.column - 1]
        if before.strip():
            trailing.setdefault(c.pos.line, []).append(c.text)
        else:
            own_line.append(c)
    # A trailing comment goes to the last output line that came from its source line (or earlier).
    last_from: dict[int, int] = {}
    for index, (src, _, _) in enumerate(items):
        if src is not None:
            last_from[src] = index
    attached: dict[int, list[str]] = {}
    for src_line, texts in trailing.items():
        candidates = [i for s, i in last_from.items() if s <= src_line]
        attached.setdefault(max(candidates) if candidates else 0, []).extend(texts)
    out: list[str] = []
    pending = sorted(own_line, key=lambda c: c.pos.line)
    for index, (src, indent, text) in enumerate(items):
        if src is not None:
            while pending and pending[0].pos.line < src:
                out.append(_INDENT * indent + pending.pop(0).text)
        line = _INDENT * indent + text if text else ""
        if index in attached:
            line += "  " + "  ".join(attached[index])
        out.append(line)
    out.extend(c.text for c in pending)
    return "\n".join(out).rstrip("\n") + "\n"


def format_text(text: str, path: str = "<policy>") -> str:
    """Parse and format; raises PolicySyntaxError on text that does not parse."""
    from .parser import parse

    return format_file(parse(text, path))
