"""The access package's files, written for trails of thousands of entries, are exactly what the
plain ways wrote: the JSON file is `json.dumps` of the whole document, the table of accesses is
the generic table; and the page escapes what an entry's recorded text could smuggle in."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from audit_log import InclusionProof, leaf_hash
from audit_log.merkle import inclusion_proof, root
from retention.requests.package import (
    _ACCESS_COLUMNS,
    _accesses_table,
    _table,
    access_package_json,
)
from retention.requests.trail import TrailEntry, trail_json_text
from tests.merkle_reference import ListSource

LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(50)]
SOURCE = ListSource(LEAVES)


def _trail() -> list[TrailEntry]:
    return [
        TrailEntry(
            seq=i, at=f"2026-01-0{i % 9 + 1}T10:00:00.000000Z", operation="candidate.read",
            role="dpo" if i % 4 else "recruiter",
            reason="NL hiring" if i % 2 else '<script>alert(1)</script> & "x" \u00e9\n',
            outcome="ok" if i % 3 else "denied",
            proof=InclusionProof(i, 50, LEAVES[i], tuple(inclusion_proof(i, 50, SOURCE)),
                                 root(50, SOURCE)),
        )
        for i in range(0, 50, 3)
    ]  # fmt: skip


def test_trail_json_text_is_json_dumps() -> None:
    """The trail written as text is the trail's JSON forms dumped compact with sorted keys."""
    trail = _trail()
    plain = json.dumps([t.to_json() for t in trail], sort_keys=True, separators=(",", ":"))
    assert trail_json_text(trail) == plain
    assert trail_json_text([]) == "[]"


def test_access_package_json_is_json_dumps_of_the_whole() -> None:
    """The package's JSON file is byte for byte `json.dumps` of the document with its accesses."""
    trail = _trail()
    document = {
        "format": "gdpr-access-package/1", "generated_at": datetime(2026, 1, 2, tzinfo=UTC),
        "subject": {"first_name": "Ana \u00e9", "notes": "</script>"}, "checkpoint": {"size": 50},
        "applications": [], "rights": [{"article": "Art. 15", "right": "access"}],
    }  # fmt: skip
    whole = {**document, "accesses": [t.to_json() for t in trail]}
    plain = json.dumps(whole, sort_keys=True, default=str, separators=(",", ":")) + "\n"
    assert access_package_json(document, trail) == plain.encode()
    for p, access in zip(trail, json.loads(access_package_json(document, trail))["accesses"],
                         strict=True):  # fmt: skip
        InclusionProof.from_json(access["proof"]).verify()
        assert access["proof"]["hashes"] and access["seq"] == p.seq


def test_accesses_table_is_the_generic_table() -> None:
    """Same markup as `_table` over the same columns, value for value."""
    trail = _trail()
    rows = [{c: getattr(t, c) for c in _ACCESS_COLUMNS} for t in trail]
    assert _accesses_table(trail) == _table(rows, list(_ACCESS_COLUMNS))
    assert _accesses_table([]) == _table([])


def test_accesses_table_escapes_recorded_text() -> None:
    """A reason holding markup shows as text, never as an element."""
    page = _accesses_table(_trail())
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in page
    assert page.count("<tr>") == len(_trail()) + 1
