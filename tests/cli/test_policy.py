"""`gdpr policy check|fmt|evaluate|test` through the real entry point: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli_support import gdpr


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", "policy", *args],
        capture_output=True,
        text=True,
        check=False,
    )


BAD = 'policy NL\n  countries NL, QQ\n  default keep cite "x"\n'


class TestPolicyCommands:
    def test_check_shipped_packs(self):
        """The shipped packs check clean with exit 0."""
        result = run("check")
        assert (result.returncode, result.stdout) == (0, "Policies OK.\n")

    def test_check_reports_located_errors(self, tmp_path: Path):
        """A finding prints file:line:col, the source line and a caret, and exits 1."""
        path = tmp_path / "nl.policy"
        path.write_text(BAD)
        result = run("check", str(path))
        assert result.returncode == 1
        assert result.stdout == (
            f"{path}:2:17: unknown country code QQ (not ISO 3166-1 alpha-2)\n"
            "  countries NL, QQ\n"
            "                ^\n"
        )

    def test_fmt_check_and_rewrite(self, tmp_path: Path):
        """fmt --check exits 1 on a non-canonical file; fmt rewrites it, then --check passes."""
        path = tmp_path / "x.policy"
        path.write_text('policy NL countries NL default keep cite "x"\n')
        assert run("fmt", "--check", str(path)).returncode == 1
        assert run("fmt", str(path)).returncode == 0
        assert run("fmt", "--check", str(path)).returncode == 0
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
        assert result.returncode == 1
        assert [json.loads(line) for line in result.stdout.splitlines()] == [
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
        assert (result.returncode, result.stderr) == (2, "Error: line 1: not JSON\n")

    def test_test_command(self):
        """policy test runs every shipped pack's cases and exits 0 when all pass."""
        result = run("test")
        assert result.returncode == 0
        assert result.stdout.endswith(" passed, 0 failed\n")


class TestPolicyInputChecks:
    """Bad policy and record files: one line (or one located finding), never a traceback."""

    GOOD = 'policy NL\n  countries NL\n  default keep forever\n  cite "x"\n'

    def test_non_utf8_files_name_the_byte(self, tmp_path: Path) -> None:
        """check, fmt, evaluate and test refuse a Latin-1 file with exit 2 and the byte offset."""
        bad = tmp_path / "nl.policy"
        bad.write_bytes(b'policy NL\n  countries NL\n  authority "Autorit\xe9"\n')
        for args in (["check", str(bad)], ["fmt", str(bad)]):
            code, out, err = gdpr({}, "policy", *args)
            assert (code, out, err) == (2, "", f"Error: {bad}: not UTF-8 (byte 46)\n")
        records = tmp_path / "records.jsonl"
        records.write_bytes(b'{"id": "r\xff"}\n')
        code, out, err = gdpr(
            {}, "policy", "evaluate", "--records", str(records), "--at", "2026-01-01T00:00:00Z"
        )
        assert (code, out, err) == (2, "", f"Error: {records}: not UTF-8 (byte 10)\n")
        tests = tmp_path / "pack" / "tests"
        tests.mkdir(parents=True)
        (tmp_path / "pack" / "nl.policy").write_text(self.GOOD)
        (tests / "cases.jsonl").write_bytes(b"\xfe\n")
        code, out, err = gdpr({}, "policy", "test", str(tmp_path / "pack"))
        assert (code, err) == (2, f"Error: {tests / 'cases.jsonl'}: not UTF-8 (byte 1)\n")

    def test_impossible_effective_date_is_a_finding(self, tmp_path: Path) -> None:
        """`effective 2026-02-30` is reported at its policy, exit 1."""
        path = tmp_path / "nl.policy"
        path.write_text(self.GOOD.replace("  default", "  effective 2026-02-30\n  default"))
        code, out, _ = gdpr({}, "policy", "check", str(path))
        assert code == 1
        assert out.splitlines()[0] == (
            f"{path}:1:1: policy NL: effective 2026-02-30 is not a calendar date"
        )

    def test_empty_policy_file_is_a_finding(self, tmp_path: Path) -> None:
        """An empty (or comments-only) .policy file is not "Policies OK."."""
        path = tmp_path / "empty.policy"
        path.write_text("# nothing yet\n")
        code, out, _ = gdpr({}, "policy", "check", str(path))
        assert code == 1
        assert out.splitlines()[0] == f"{path}:1:1: the file defines no policy"


def test_evaluate_text_shows_a_held_record_as_held(tmp_path: Path) -> None:
    """A past-due record under an active hold reads "(held)", not "(not due)"."""
    record = {
        "id": "a",
        "country": "NL",
        "status": "rejected",
        "decided_at": "2020-01-01T00:00:00Z",
        "holds": [{"placed_at": "2021-01-01T00:00:00Z"}],
    }
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps(record) + "\n")
    code, out, err = gdpr(
        {}, "policy", "evaluate", "--records", str(records), "--at", "2025-09-28T10:00:00Z"
    )
    assert (code, err) == (0, "")
    assert out.endswith("(held)\n")


def test_fmt_json_lists_each_file(tmp_path: Path) -> None:
    """fmt --check --json prints one array naming each file and whether it is canonical."""
    ugly = tmp_path / "a.policy"
    ugly.write_text('policy NL countries NL default keep forever cite "x"\n')
    code, out, _ = gdpr({}, "policy", "fmt", "--check", "--json", str(ugly))
    assert code == 1
    assert json.loads(out) == [{"file": str(ugly), "canonical": False}]
    assert gdpr({}, "policy", "fmt", str(ugly))[0] == 0
    code, out, _ = gdpr({}, "policy", "fmt", "--json", str(ugly))
    assert (code, json.loads(out)) == (0, [{"file": str(ugly), "canonical": True}])
