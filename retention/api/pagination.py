"""Cursor pagination for every list: a bounded `limit`, an opaque `cursor`, `{items, next}`.

A router declares `limit: LimitQuery = DEFAULT_LIMIT` and `cursor: CursorQuery = None`, turns
the cursor into the operation's position with `decode_cursor` (the position a previous page
ended at: a seq, an id, a (time, id) pair; never personal data, since cursors travel in URLs),
asks the operation for `limit + 1` items after it, and returns `Page.of(items, limit, key)`:
the first `limit` items and, when there was one more, `next`, the cursor of the last item
returned. Cursors are base64url JSON: opaque to clients, not secret (a forged cursor is only
another position, and every item is still authorized by the operation).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from retention.api.problems import ApiProblem, ProblemKind

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "CursorQuery",
    "LimitQuery",
    "Page",
    "decode_cursor",
    "encode_cursor",
]

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_CHARS = 512

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1-{MAX_LIMIT}).")
]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_CHARS,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `next` of the previous page; omit for the first page.",
    ),
]


class Page(BaseModel, Generic[T]):
    """One page of a list; `next` is the cursor of the following page, null on the last."""

    items: list[T]
    next: str | None = Field(default=None, description="Pass as `cursor` for the next page.")

    @classmethod
    def of(cls, items: Sequence[T], limit: int, key: Callable[[T], Any]) -> Self:
        """The page from up to `limit + 1` fetched items; `key(item)` is an item's position."""
        shown = list(items[:limit])
        more = len(items) > limit and bool(shown)
        return cls(items=shown, next=encode_cursor(key(shown[-1])) if more else None)


def encode_cursor(position: Any) -> str:
    """A position (JSON-safe: numbers, strings, lists) as an opaque URL-safe cursor."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True, default=str)
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None) -> Any:
    """The position of a cursor (None for the first page); a malformed one is 400."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        raise ApiProblem(
            ProblemKind.BAD_REQUEST, "malformed cursor: pass the 'next' of a previous page"
        ) from None
