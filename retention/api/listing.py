"""Pages of a list that an operation returns whole: holds, reviews, principals, grants.

These tables stay small (people, cases, open reviews), so their operations return every row in a
fixed order and the router pages it: the cursor is the id of the last item shown (an id, never
personal data), and the next page starts after it. A cursor whose item has left the list (a hold
released meanwhile, with `include_released` off) is 400: start again from the first page. Large
lists (audit entries, sweep runs) page in their operation instead, by position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from retention.api.pagination import Page, decode_cursor
from retention.api.problems import ApiProblem, ProblemKind

__all__ = ["page_after"]

T = TypeVar("T")


def page_after(
    items: Sequence[T], limit: int, cursor: str | None, key: Callable[[T], str]
) -> Page[T]:
    """The page of `items` after the item whose `key` the cursor holds, at most `limit` long."""
    position = decode_cursor(cursor)
    start = 0
    if position is not None:
        keys = [key(item) for item in items]
        if not isinstance(position, str) or position not in keys:
            raise ApiProblem(
                ProblemKind.BAD_REQUEST,
                "the cursor's item is no longer in the list: start again without a cursor",
            )
        start = keys.index(position) + 1
    page: Page[T] = Page.of(items[start : start + limit + 1], limit, key)
    return page
