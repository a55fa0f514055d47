"""`gdpr policy check|fmt|evaluate|test` through the real entry point: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_support import Run, gdpr


def run(*args: str) -> Run:
    """`gdpr policy ARGS`: no installation, no token."""
    return gdpr({}, "policy", *args)


BAD = 'policy NL\n  countries NL, QQ\n  default keep cite "x"\n'


class TestPolicyCommands:
    def test_check_shipped_packs(self):
        """The shipped packs check clean with exit 0."""
        result = run("check")
        assert (result.code, result.out) == (0, "Policies OK.\n")

    def test_check_reports_located_errors(self, tmp_path: Path):
        """A finding prints file:line:col, the source line and a caret, and exits 1."""
        path = tmp_path / "nl.policy"
        path.write_text(BAD)
        result = run("check", str(path))
        assert result.code == 1
        assert result.out == (
            f"{path}:2:17: unknown country code QQ (not ISO 3166-1 alpha-2)\n"
            "  countries NL, QQ\n"
            "                ^\n"
        )

    def test_fmt_check_and_rewrite(self, tmp_path: Path):
        """fmt --check exits 1 on a non-canonical file; fmt rewrites it, then --check passes."""
        path = tmp_path / "x.policy"
        path.write_text('policy NL countries NL default keep cite "x"\n')
        assert run("fmt", "--check", str(path)).code == 1
        assert run("fmt", str(path)).code == 0
        assert run("fmt", "--check", str(path)).code == 0
        assert path.read_text().startswith("policy NL\n  countries NL\n\n  default\n")

    def test_evaluate_json_lines(self, tmp_path: Path):
        """evaluate prints one JSON line per record; an undecidable record makes it exit 1."""
        records = tmp_path / "r.jsonl"
        records.write_text(
            json.dumps(
                {
                    "id": "a",
                    "country": "NL",
                    "status": "rejected",
                    "decided_at": "2025-08-31T10:00:00Z",
                }
            )
            + "\n"
            + json.dumps({"id": "b", "country": "US", "status": "rejected"})
            + "\n"
        )
        result = run(
            "evaluate", "--records", str(records), "--at", "2025-09-28T10:00:00Z", "--json"
        )
        assert result.code == 1
        assert [json.loads(line) for line in result.out.splitlines()] == [
            {
                "id": "a",
                "policy": "NL",
                "rule": "closed-application",
                "action": "delete",
                "due_at": "2025-09-28T10:00:00Z",
                "due": True,
                "cite": "Autoriteit Persoonsgegevens; NVP Sollicitatiecode",
                "next": None,
            },
            {"id": "b", "error": "no policy covers country US"},
        ]

    def test_evaluate_bad_input(self, tmp_path: Path):
        """A record line that is not JSON is bad input: one line on stderr, exit 2."""
        records = tmp_path / "r.jsonl"
        records.write_text("{nope\n")
        result = run("evaluate", "--records", str(records), "--at", "2025-01-01T00:00:00Z")
        assert (result.code, result.err) == (2, "Error: line 1: not JSON\n")

    def test_test_command(self):
        """policy test runs every shipped pack's cases and exits 0 when all pass."""
        result = run("test")
        assert result.code == 0
        assert result.out.endswith(" passed, 0 failed\n")
