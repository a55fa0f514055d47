"""The pack's format: names, the manifest's bytes, retention-action rows, CSV encoding."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from audit_log import Entry, Event, Outcome
from retention.evidence.pack import (
    ACTIONS_HEADER,
    COLUMN,
    RETENTION_ACTIONS,
    FileDigest,
    Manifest,
    PackPeriod,
    action_prefixes,
    action_row,
    csv_line,
    fingerprint,
    pack_name,
    safe_relative_path,
)

PERIOD = PackPeriod(
    "2026-09-01",
    "2026-10-31",
    "UTC",
    "2026-09-01T00:00:00.000000Z",
    "2026-11-01T00:00:00.000000Z",
    "NL",
    5,
    9,
    4,
)


def manifest() -> Manifest:
    return Manifest(
        origin="example/log",
        created_at="2026-11-22T12:00:00.000000Z",
        period=PERIOD,
        checkpoint_size=12,
        retention_actions=RETENTION_ACTIONS,
        files=(FileDigest("a.csv", "00" * 32, 3),),
    )


class TestNames:
    def test_pack_name(self) -> None:
        """The folder is EVIDENCE_<from>_<to>_<made, YYYYMMDD>."""
        name = pack_name(date(2026, 9, 1), date(2026, 10, 31), date(2026, 11, 22))
        assert name == "EVIDENCE_2026-09-01_2026-10-31_20261122"

    def test_fingerprint_is_sha256sum_of_the_file(self) -> None:
        """The fingerprint is what `sha256sum verifier-key.txt` prints."""
        assert fingerprint(b"abc") == (
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )

    @pytest.mark.parametrize(
        ("path", "ok"),
        [
            ("report.html", True),
            ("policies/nl.policy", True),
            ("../etc/passwd", False),
            ("/abs", False),
            ("a/b/c", False),
            (".hidden", False),
        ],
    )
    def test_safe_relative_path(self, path: str, ok: bool) -> None:
        """Only plain names, at most one folder deep, may be listed in a manifest."""
        assert safe_relative_path(path) is ok


class TestManifest:
    def test_round_trip(self) -> None:
        """A manifest reads back equal to what was written."""
        m = manifest()
        assert Manifest.from_bytes(m.to_bytes()) == m

    def test_bytes_are_a_valid_note_text(self) -> None:
        """manifest.json is ASCII, ends in a newline and has no blank line (a signable note)."""
        raw = manifest().to_bytes()
        assert raw.isascii() and raw.endswith(b"\n") and b"\n\n" not in raw

    def test_unknown_format_refused(self) -> None:
        """A manifest of another format version is refused, naming both."""
        obj = json.loads(manifest().to_bytes())
        obj["format"] = "gdpr-evidence-pack/99"
        with pytest.raises(ValueError, match="unknown pack format"):
            Manifest.from_bytes(json.dumps(obj).encode())


def entry(action: str, outcome: Outcome = Outcome.OK, **details: object) -> dict[str, object]:
    e = Entry.create(
        7,
        datetime(2026, 9, 2, 3, 4, 5, tzinfo=UTC),
        "0" * 64,
        Event("scheduler", action, UUID(int=1), outcome, details=details),
    )
    return json.loads(e.canonical)


class TestActionRows:
    def test_row_of_a_sweep_action(self) -> None:
        """A sweep's retention action becomes one row with its rule, policy hash, cite and run."""
        row = action_row(
            entry(
                "candidate.delete",
                policy="NL",
                rule="closed",
                cite="AP",
                policy_hash="ab" * 32,
                run="r1",
            ),
            None,
        )
        assert row is not None and len(row) == len(ACTIONS_HEADER)
        assert row[COLUMN["action"]] == "delete"
        assert row[COLUMN["run_id"]] == "r1"
        assert row[COLUMN["date"]] == "2026-09-02T03:04:05.000000Z"
        assert row[COLUMN["country"]] == ""

    def test_other_actions_are_not_rows(self) -> None:
        """Reads and exports are not retention actions."""
        assert action_row(entry("candidate.read"), None) is None
        assert action_row(entry("evidence.export"), None) is None

    def test_country_filter_uses_the_entry_only(self) -> None:
        """With a country filter, only entries naming that country are rows."""
        nl = entry("candidate.block", country="NL")
        assert action_row(nl, "NL") is not None
        assert action_row(nl, "DE") is None
        assert action_row(entry("candidate.block"), "NL") is None

    def test_prefixes_match_canonical_bytes(self) -> None:
        """Canonical bytes of a retention action start with one of the prefixes; reads do not."""
        prefixes = action_prefixes()
        for action in RETENTION_ACTIONS:
            data = json.dumps(entry(action), sort_keys=True, separators=(",", ":")).encode()
            assert data.startswith(prefixes)
        read = json.dumps(entry("candidate.read"), sort_keys=True, separators=(",", ":"))
        assert not read.encode().startswith(prefixes)


class TestCsv:
    def test_quoting(self) -> None:
        """Commas and quotes are quoted RFC 4180 style; lines end in a bare newline."""
        assert csv_line(["a", 'b,"c"', None, 3]) == b'a,"b,""c""",,3\n'
