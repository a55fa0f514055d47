"""RFC 8785 (JCS) canonical JSON for audit entries, with a fast path for their simple shapes.

The reference encoder (`rfc8785`) is pure Python and dominates the cost of an append. Entries only
hold strings, integers within +/-(2^53-1), booleans, null, lists and objects; for those, the
C-accelerated `json.dumps` with sorted keys produces the same bytes as JCS provided that no float
is present and every object key sorts the same by code point and by UTF-16 code unit (true for keys
without characters above U+FFFF). Anything else goes through `rfc8785`. Tests prove byte equality
on generated entries.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rfc8785


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


# JSONEncoder.encode builds a new C encoder on every call; for small entries that dominates, so
# build it once: no circular check (validated values are trees), sorted keys, no NaN.
# (The C encoder is an undocumented CPython accelerator that typeshed does not declare.)
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_dumps: Callable[[Any], str]
if _c_encoder is not None:
    _encode = _c_encoder(None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False,
                         False)  # fmt: skip

    def _c_dumps(value: Any) -> str:
        return "".join(_encode(value, 0))

    _dumps = _c_dumps
else:  # pragma: no cover - CPython always has the C accelerator
    _dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def _simple(value: Any) -> bool:
    """True when `value` holds only shapes whose json.dumps output is already canonical."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**53) < value < 2**53
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and (k.isascii() or max(k, default="") <= "\uffff") and _simple(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_simple(v) for v in value)
    return False


def has_bmp_keys(value: Any) -> bool:
    """True when no object key in `value` holds a character above U+FFFF (see module docstring)."""
    if isinstance(value, dict):
        return all(
            (k.isascii() or max(k, default="") <= "\uffff") and has_bmp_keys(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(has_bmp_keys(v) for v in value)
    return True


_quote = json.encoder.encode_basestring  # the C escaper json.dumps(ensure_ascii=False) uses


@dataclass(frozen=True, slots=True)
class EntryShape:
    """The canonical text of an entry around its own fields (prev, seq, subject).

    Entries that share actor, action, details, outcome, reason and ts (a sweep's entries of one
    rule in one append) share it, so each is sealed by joining a few strings.
    """

    head: str  # from '{' to '"prev":'
    middle: str  # from ',"reason":' to '"seq":'
    tail: str  # from ',"ts":' to '}'


def entry_shape(
    *, ts: str, actor: str, action: str, outcome: str, reason: str, details: dict[str, Any]
) -> EntryShape | None:
    """The shape of entries with these fields; None when they need the reference encoder.

    Only for details that are simple (see `has_bmp_keys`, which validated events promise). The
    text around the details is built once per (ts, actor, action, outcome, reason): an append
    seals many entries that differ only in their details.
    """
    frame = entry_frame(ts, actor, action, outcome, reason)
    if frame is None:
        return None
    before, after, middle, tail = frame
    text = details_json(details)
    if text is None:
        return None
    return EntryShape(before + text + after, middle, tail)


def details_json(details: dict[str, Any]) -> str | None:
    """The canonical text of simple `details` (see `has_bmp_keys`); None when they need the
    reference encoder (a lone surrogate, which it refuses with its own error)."""
    if not details:
        return "{}"
    text = _dumps(details)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return text


@functools.lru_cache(maxsize=256)
def entry_frame(
    ts: str, actor: str, action: str, outcome: str, reason: str
) -> tuple[str, str, str, str] | None:
    """The canonical text of an entry around its own fields: (from '{' to '"details":', from
    ',"outcome":' to '"prev":', from ',"reason":' to '"seq":', from ',"ts":' to '}'); None when
    a field holds a lone surrogate (the reference encoder refuses it with its own error).

    Between them go the details, prev (quoted hex), seq and ',"subject":' with the subject:
    the keys in JCS order. Cached: a log's entries repeat few of these.
    """
    parts = (
        f'{{"action":{_quote(action)},"actor":{_quote(actor)},"details":',
        f',"outcome":{_quote(outcome)},"prev":',
        f',"reason":{_quote(reason)},"seq":',
        f',"ts":{_quote(ts)}}}',
    )
    try:
        "".join(parts).encode("utf-8")
    except UnicodeEncodeError:
        return None  # a lone surrogate: let the reference encoder raise its own error
    return parts


def shaped_entry_json(shape: EntryShape, *, seq: int, prev: str, subject: str | None) -> bytes:
    """Canonical bytes of the entry of `shape` with these fields (`seq_is_simple(seq)` holds).

    `prev` is hex and `subject` a UUID's text: both are ASCII, so encoding cannot fail.
    """
    subject_text = "null" if subject is None else _quote(subject)
    return (
        f'{shape.head}{_quote(prev)}{shape.middle}{seq},"subject":{subject_text}{shape.tail}'
    ).encode()


def seq_is_simple(seq: int) -> bool:
    """True when `seq` is an integer JSON readers hold exactly (the fast paths' condition)."""
    return -(2**53) < seq < 2**53


def entry_json(
    *,
    seq: int,
    ts: str,
    actor: str,
    action: str,
    subject: str | None,
    outcome: str,
    reason: str,
    details: dict[str, Any],
    prev: str,
    simple: bool,
) -> bytes:
    """Canonical bytes of an audit entry object, its keys already in JCS order.

    Entries have a fixed set of top-level keys, so when the details are simple the object is
    assembled in sorted key order directly (`entry_shape`), sparing the generic encoder a dict
    and a sort.
    """
    if simple and seq_is_simple(seq):
        shape = entry_shape(
            ts=ts, actor=actor, action=action, outcome=outcome, reason=reason, details=details
        )
        if shape is not None and _ascii_or_valid(prev, subject):
            return shaped_entry_json(shape, seq=seq, prev=prev, subject=subject)
    obj: dict[str, Any] = {"seq": seq, "ts": ts, "actor": actor, "action": action, "subject": subject,
           "outcome": outcome, "reason": reason, "details": details, "prev": prev}  # fmt: skip
    return rfc8785.dumps(obj)


def _ascii_or_valid(*values: str | None) -> bool:
    """True when every value encodes as UTF-8 (no lone surrogate)."""
    try:
        for value in values:
            if value is not None:
                value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def canonical_json(value: Any, *, simple: bool | None = None) -> bytes:
    """Encode `value` as RFC 8785 canonical JSON bytes.

    `simple=True` is the caller's promise that `value` holds only the shapes the fast path
    handles (as `entry.Event` guarantees after validation); None checks it here.
    """
    if simple if simple is not None else _simple(value):
        try:
            return _dumps(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference encoder raise its own error
    return rfc8785.dumps(value)
