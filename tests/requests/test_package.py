"""The access package's page: the table of accesses, built for thousands of rows, is the generic
table it replaced, and escapes what an entry's recorded text could smuggle in."""

from __future__ import annotations

from retention.requests.package import _ACCESS_COLUMNS, _accesses_table, _table


def _accesses() -> list[dict[str, object]]:
    return [
        {"at": f"2026-01-0{i % 9 + 1}T10:00:00Z", "operation": "candidate.read", "role": "dpo",
         "reason": "NL hiring" if i % 2 else "<script>alert(1)</script> & \"x\"",
         "outcome": "ok" if i % 3 else "denied", "seq": 1000 + i, "proof": {"hashes": []}}
        for i in range(40)
    ]  # fmt: skip


def test_accesses_table_is_the_generic_table() -> None:
    """Same markup as `_table` over the same columns, value for value."""
    rows = _accesses()
    assert _accesses_table(rows) == _table(rows, list(_ACCESS_COLUMNS))
    assert _accesses_table([]) == _table([])


def test_accesses_table_escapes_recorded_text() -> None:
    """A reason holding markup shows as text, never as an element."""
    page = _accesses_table(_accesses())
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in page
    assert page.count("<tr>") == 41
