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

    def test_evaluate_json_array(self, tmp_path: Path):
        """evaluate --json prints one JSON array, an object per record in file order; an
        undecidable record makes it exit 1 with one line on stderr."""
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
        assert (result.code, result.err) == (1, "Error: 1 record could not be decided\n")
        assert json.loads(result.out) == [
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

    def test_evaluate_json_without_records_is_an_empty_array(self, tmp_path: Path):
        """A records file with only blank lines gives `[]` and exit 0."""
        records = tmp_path / "r.jsonl"
        records.write_text("\n\n")
        result = run(
            "evaluate", "--records", str(records), "--at", "2025-01-01T00:00:00Z", "--json"
        )
        assert (result.code, json.loads(result.out)) == (0, [])

    def test_check_finding_exits_through_main(self, tmp_path: Path):
        """A lint finding: the report on stdout, then one error line on stderr, exit 1."""
        path = tmp_path / "nl.policy"
        path.write_text(BAD)
        result = run("check", str(path), "--json")
        assert result.code == 1
        assert json.loads(result.out)[0]["line"] == 2
        assert result.err == "Error: 1 finding in the policy files\n"

    def test_fmt_check_names_the_files(self, tmp_path: Path):
        """fmt --check names each file to reformat, changes nothing, and exits 1 via main."""
        path = tmp_path / "x.policy"
        text = 'policy NL countries NL default keep cite "x"\n'
        path.write_text(text)
        result = run("fmt", "--check", str(path))
        assert (result.code, result.out) == (1, f"would reformat {path}\n")
        assert result.err == "Error: 1 file not in the canonical layout\n"
        assert path.read_text() == text
