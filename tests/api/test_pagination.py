"""The pagination helper: pages, next cursors, and refusing malformed cursors."""

from __future__ import annotations

import pytest

from retention.api.pagination import Page, decode_cursor, encode_cursor
from retention.api.problems import ApiProblem


def test_a_full_page_has_a_next_cursor_to_the_last_item() -> None:
    page = Page[int].of([1, 2, 3], 2, key=lambda i: {"after": i})
    assert page.items == [1, 2]
    assert decode_cursor(page.next) == {"after": 2}


def test_the_last_page_has_no_next() -> None:
    assert Page[int].of([1, 2], 2, key=lambda i: i).next is None
    assert Page[int].of([], 2, key=lambda i: i).next is None


def test_walking_pages_sees_every_item_once() -> None:
    data = list(range(11))
    seen, cursor = [], None
    while True:
        after = decode_cursor(cursor)
        start = 0 if after is None else after + 1
        page = Page[int].of(data[start : start + 4], 3, key=lambda i: i)
        seen += page.items
        if page.next is None:
            break
        cursor = page.next
    assert seen == data


@pytest.mark.parametrize("bad", ["!!", "e30", "bm90IGpzb24"])
def test_malformed_cursor_is_400(bad: str) -> None:
    if bad == "e30":  # '{}' is well-formed JSON: a position the operation may reject itself
        assert decode_cursor(bad) == {}
        return
    with pytest.raises(ApiProblem) as caught:
        decode_cursor(bad)
    assert caught.value.kind.status == 400


def test_cursor_is_url_safe() -> None:
    assert set(encode_cursor(["2026-01-01T00:00:00+00:00", "a/b?c"])) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
