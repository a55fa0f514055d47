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
