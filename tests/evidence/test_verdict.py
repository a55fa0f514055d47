"""The verdict of a verification: text for people, JSON for programs."""

from __future__ import annotations

from retention.evidence.verdict import PackProblem, PackReport


def report(*problems: PackProblem, key_source: str = "given") -> PackReport:
    return PackReport(
        path="/p",
        problems=problems,
        key_source=key_source,
        fingerprint="ab" * 32,
        origin="o",
        period={"from": "2026-09-01", "to": "2026-09-30", "first_seq": 3, "last_seq": 9},
        entries=7,
        checkpoint_size=12,
        files=14,
        action_rows=2,
        consistency_from=2,
    )


class TestText:
    def test_ok_summary(self) -> None:
        """A verified pack's summary starts with OK and says what held and with which key."""
        text = report().summary()
        assert text.splitlines()[0] == "OK: evidence pack /p verifies."
        assert "entries 3..9 of log o" in text
        assert "the key given with --key" in text

    def test_key_from_the_pack_is_flagged(self) -> None:
        """Without --key the summary tells the reader to compare the fingerprint."""
        assert "compare its fingerprint" in report(key_source="pack").summary()

    def test_failure_lists_every_problem(self) -> None:
        """A failed verification lists each file and line that failed."""
        text = report(
            PackProblem("audit-log.jsonl", "line 6", "entry 6 follows entry 4"),
            PackProblem("holds.csv", None, "SHA-256 x, manifest says y"),
        ).summary()
        assert text.splitlines() == [
            "FAILED: 2 problem(s) in /p",
            "  audit-log.jsonl line 6: entry 6 follows entry 4",
            "  holds.csv: SHA-256 x, manifest says y",
        ]


class TestJson:
    def test_json_form(self) -> None:
        """The JSON form carries the verdict, the problems and the figures."""
        obj = report(PackProblem("a", None, "m")).to_json()
        assert obj["ok"] is False
        assert obj["problems"] == [{"file": "a", "where": None, "message": "m"}]
        assert obj["checkpoint_size"] == 12 and obj["fingerprint"] == "ab" * 32
