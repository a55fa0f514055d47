"""RFC 8785 (JCS) canonical JSON for audit entries, with a fast path for their simple shapes.

The reference encoder (`rfc8785`) is pure Python and dominates the cost of an append. Entries only
hold strings, integers within +/-(2^53-1), booleans, null, lists and objects; for those, the
C-accelerated `json.dumps` with sorted keys produces the same bytes as JCS provided that no float
is present and every object key sorts the same by code point and by UTF-16 code unit (true for keys
without characters above U+FFFF). Anything else goes through `rfc8785`. Tests prove byte equality
on generated entries.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def _simple(value: Any) -> bool:
    """True when `value` holds only shapes whose json.dumps output is already canonical."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**53) < value < 2**53
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and (k.isascii() or max(k) <= "\uffff") and _simple(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_simple(v) for v in value)
    return False


def canonical_json(value: Any) -> bytes:
    """Encode `value` as RFC 8785 canonical JSON bytes."""
    if _simple(value):
        try:
            return _dumps(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference encoder raise its own error
    return rfc8785.dumps(value)
