"""Tests of audit_log.canonical: the fast path is byte-identical to the rfc8785 reference."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_log.canonical import (
    canonical_json,
    entry_json,
    entry_shape,
    has_bmp_keys,
    shaped_entry_json,
)
from tests.audit_log.strategies import JSON, SAFE_INT, TEXT


def _entry(details: dict, actor: str, reason: str, seq: int) -> dict:
    return {
        "seq": seq,
        "ts": "2026-01-01T00:00:00.000000Z",
        "actor": actor,
        "action": "candidate.read",
        "subject": None,
        "outcome": "ok",
        "reason": reason,
        "details": details,
        "prev": "0" * 64,
    }


class TestCanonical:
    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(TEXT, JSON, max_size=6), TEXT, TEXT, SAFE_INT)
    def test_entries_match_reference(
        self, details: dict, actor: str, reason: str, seq: int
    ) -> None:
        """Generated entries encode to exactly the bytes rfc8785 produces."""
        obj = _entry(details, actor, reason, seq)
        assert canonical_json(obj) == rfc8785.dumps(obj)

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(TEXT, JSON, max_size=6), TEXT, TEXT, TEXT, SAFE_INT, st.booleans())
    def test_entry_template_matches_reference(
        self, details: dict, actor: str, action: str, reason: str, seq: int, subject: bool
    ) -> None:
        """The fixed-key entry template yields exactly the rfc8785 bytes of the same object."""
        obj = _entry(details, actor, reason, seq) | {"action": action}
        if subject:
            obj["subject"] = "0f8fad5b-d9cb-469f-a165-70867728950e"
        data = entry_json(**obj, simple=has_bmp_keys(details))
        assert data == rfc8785.dumps(obj)

    @settings(max_examples=200, deadline=None)
    @given(
        st.dictionaries(st.text(max_size=8), JSON, max_size=6),
        TEXT,
        TEXT,
        st.lists(st.tuples(SAFE_INT, st.uuids() | st.none()), min_size=1, max_size=4),
    )
    def test_shaped_entries_match_reference(
        self, details: dict, actor: str, reason: str, own: list
    ) -> None:
        """Entries sealed from one shared shape yield exactly the rfc8785 bytes of each object."""
        base = _entry(details, actor, reason, 0)
        shape = entry_shape(
            ts=base["ts"], actor=actor, action=base["action"], outcome=base["outcome"],
            reason=reason, details=details,
        )  # fmt: skip
        for seq, subject in own:
            obj = base | {"seq": seq, "subject": subject and str(subject), "prev": f"{seq:064x}"}
            if shape is None or not has_bmp_keys(details):
                continue  # the reference path, covered above
            data = shaped_entry_json(shape, seq=seq, prev=obj["prev"], subject=obj["subject"])
            assert data == rfc8785.dumps(obj)

    @settings(max_examples=150, deadline=None)
    @given(JSON | st.floats(allow_nan=False, allow_infinity=False))
    def test_any_value_matches_reference(self, value: object) -> None:
        """Any JSON value, floats included (reference path), encodes as rfc8785 does."""
        assert canonical_json(value) == rfc8785.dumps(value)

    def test_utf16_key_order(self) -> None:
        """Keys above U+FFFF sort by UTF-16 code units, before U+FFFF-range keys, as JCS says."""
        obj = {"\U0001f600": 1, "\uffee": 2, "a": 3}
        assert canonical_json(obj) == rfc8785.dumps(obj)
        assert canonical_json(obj).index("\U0001f600".encode()) < canonical_json(obj).index(
            "\uffee".encode()
        )

    def test_control_characters_escaped(self) -> None:
        """Control characters are escaped as JCS requires, non-ASCII kept as UTF-8."""
        obj = {"k": '\x00\x1f\n\t"\\é\u2028'}
        assert canonical_json(obj) == rfc8785.dumps(obj)
