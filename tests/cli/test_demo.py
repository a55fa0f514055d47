"""The demo and import commands through the real entry point: exit codes and exact messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_support import gdpr, init_as_dpo


class TestDemo:
    def test_demo_creates_seeds_and_summarizes(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """`gdpr demo` makes an installation, seeds it and prints counts per country and status."""
        data = tmp_path / "demo"
        code, out, err = gdpr(database_env, "--data-dir", str(data), "demo", "--candidates", "300")
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert lines[0] == f"Demo installation in {data}"
        assert lines[1].startswith("Seeded 300 candidates (seed 0): ")
        # The summary counts what is held after the demo's sweep: fewer than were seeded.
        held = int(lines[2].removeprefix("Candidates: ").replace(",", ""))
        assert 0 < held < 300
        assert lines[3].startswith("  by country: AE ")
        assert lines[4].startswith("  by status:  hired ")
        assert lines[6].startswith("Talent-pool consents: ")
        assert lines[7].startswith("Documents: ")
        assert (data / ".gdpr-installation").exists()

    def test_demo_json(self, tmp_path: Path, database_env: dict[str, str | None]) -> None:
        """`gdpr demo --json` prints one JSON document with the summary."""
        data = tmp_path / "demo"
        code, out, _ = gdpr(
            database_env, "--data-dir", str(data), "demo", "--candidates", "120", "--json"
        )
        summary = json.loads(out)
        assert code == 0
        assert 0 < summary["candidates"] == sum(summary["by_country"].values()) < 120
        assert summary["seed"]["candidates"] == 120
        assert set(summary["consents"]) == {"active", "expired", "withdrawn"}

    def test_demo_json_is_data_and_stderr_stays_empty(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """In a real process (warnings as Python prints them), `gdpr demo --json` writes nothing
        to stderr, and gives tokens, keys and each step's facts as fields, not display lines."""
        data = tmp_path / "demo"
        env = dict(os.environ)
        for key, value in database_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        done = subprocess.run(
            [sys.executable, "-c", "import cli; cli.main()", "--data-dir", str(data),
             "demo", "--candidates", "60", "--json"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert (done.returncode, done.stderr) == (0, "")
        summary = json.loads(done.stdout)
        assert "notes" not in summary
        assert summary["verifier_key"].startswith("gdpr-")
        assert [p["role"] for p in summary["principals"]] == ["admin", "dpo"]
        assert set(summary["steps"]) == {"access", "sweep", "audit", "evidence", "api"}
        assert (
            summary["steps"]["api"]["allowed_status"],
            summary["steps"]["api"]["denied_status"],
        ) == (200, 403)
        assert summary["steps"]["evidence"]["verified"] is True
        assert summary["steps"]["sweep"]["sweep"]["evaluated_at"].endswith("Z")
        assert summary["seed"]["now"].endswith("Z")

    def test_second_demo_needs_fresh(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """A second demo in the same directory is refused unless --fresh recreates it."""
        data = tmp_path / "demo"
        gdpr(database_env, "--data-dir", str(data), "demo", "--candidates", "20")
        code, out, err = gdpr(database_env, "--data-dir", str(data), "demo", "--candidates", "20")
        assert (code, out) == (2, "")
        assert err == (
            f"Error: {data} already holds a demo: pass --fresh to recreate it, "
            "or choose another --data-dir\n"
        )
        code, out, _ = gdpr(
            database_env, "--data-dir", str(data), "demo", "--fresh", "--candidates", "30", "--json"
        )
        assert (code, json.loads(out)["seed"]["candidates"]) == (0, 30)

    def test_demo_never_touches_a_real_installation(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """--fresh refuses a directory that `gdpr init` made: the demo deletes only its own."""
        data = tmp_path / "real"
        assert gdpr(database_env, "--data-dir", str(data), "init")[0] == 0
        code, _, err = gdpr(database_env, "--data-dir", str(data), "demo", "--fresh")
        assert code == 2
        assert err == (
            f"Error: {data} holds an installation not made by the demo: choose another --data-dir\n"
        )
        assert (data / ".gdpr-installation").exists()


class TestDemoSeed:
    def test_seed_adds_candidates(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """`gdpr demo seed` adds candidates to an installation and reports the counts."""
        data = tmp_path / "inst"
        init_as_dpo(database_env, data)
        code, out, err = gdpr(
            database_env,
            "--data-dir",
            str(data),
            "demo",
            "seed",
            "--candidates",
            "50",
            "--seed",
            "9",
        )
        assert (code, err) == (0, "")
        assert out.startswith("Seeded 50 candidates (seed 9): ")
        code, _, err = gdpr(
            database_env,
            "--data-dir",
            str(data),
            "demo",
            "seed",
            "--candidates",
            "5",
            "--seed",
            "9",
        )
        assert code == 2
        assert err == (
            "Error: demo candidates of seed 9 are already in the database: pass another --seed\n"
        )

    def test_seed_json_has_no_progress_output(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """Under --json the command prints the JSON document and nothing else."""
        data = tmp_path / "inst"
        init_as_dpo(database_env, data)
        code, out, err = gdpr(
            database_env, "--data-dir", str(data), "demo", "seed", "--candidates", "40", "--json"
        )
        assert (code, err) == (0, "")
        assert json.loads(out)["candidates"] == 40

    def test_seed_without_installation(self, tmp_path: Path) -> None:
        """Seeding where there is no installation says to run gdpr init."""
        data = tmp_path / "none"
        code, _, err = gdpr({}, "--data-dir", str(data), "demo", "seed", "--candidates", "5")
        assert code == 2
        assert (
            err == f"Error: no installation in {data}: run 'gdpr init' first (or pass --data-dir)\n"
        )


class TestImport:
    @pytest.fixture
    def data(self, tmp_path: Path, database_env: dict[str, str | None]) -> Path:
        data = tmp_path / "inst"
        init_as_dpo(database_env, data)  # importing needs candidate:write
        return data

    def test_import_without_token_changes_nothing(
        self, data: Path, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """Without a token the import is refused before reading a row (exit 2)."""
        export = tmp_path / "ats.csv"
        export.write_text("external_ref,country,status\nE1,PL,rejected\n")
        env = {**database_env, "GDPR_TOKEN": None}
        code, out, err = gdpr(env, "--data-dir", str(data), "import", "candidates", str(export))
        assert (code, out) == (2, "")
        assert "GDPR_TOKEN" in err

    def test_import_with_rejects_exits_1(
        self, data: Path, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """Valid rows are imported, rejected ones written, and the exit code is 1."""
        export = tmp_path / "ats.csv"
        export.write_text(
            "external_ref;country;status;email\nE1;Polska;in process;a@b.pl\nE2;PL;in process;nope\n"
        )
        code, out, err = gdpr(
            database_env, "--data-dir", str(data), "import", "candidates", str(export)
        )
        assert code == 1
        assert out == (
            f"Imported {export} (csv): 2 rows, 1 new, 0 updated, 0 duplicates, 1 rejected; "
            "consents 0 added, 0 updated.\n"
        )
        assert err == (
            f"Error: 1 row rejected (see {export}.rejects.csv); the other rows were imported\n"
        )

    def test_clean_import_json(
        self, data: Path, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """A clean import exits 0 and --json reports the counts and the rate."""
        export = tmp_path / "ats.jsonl"
        export.write_text('{"external_ref": "J1", "country": "NL", "status": "new"}\n')
        code, out, err = gdpr(
            database_env, "--data-dir", str(data), "import", "candidates", str(export), "--json"
        )
        report = json.loads(out)
        assert (code, err) == (0, "")
        assert (report["format"], report["inserted"], report["rejects_file"]) == ("jsonl", 1, None)
        assert "rows_per_second" in report
        code, out, _ = gdpr(database_env, "--data-dir", str(data), "audit", "show", "--json")
        entry = json.loads(out)[-1]
        assert (entry["action"], entry["outcome"]) == ("candidate.import", "ok")
        assert (entry["details"]["inserted"], entry["details"]["rejected"]) == (1, 0)

    def test_binary_file_exits_2(
        self, data: Path, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """A binary file is one clear line and exit 2."""
        export = tmp_path / "cv.pdf"
        export.write_bytes(b"%PDF-1.4\x00\x00")
        code, out, err = gdpr(
            database_env, "--data-dir", str(data), "import", "candidates", str(export)
        )
        assert (code, out) == (2, "")
        assert err == (
            f"Error: {export} is a binary file, not CSV or JSONL: export the candidates as CSV\n"
        )


class TestDemoApi:
    def test_demo_ends_with_the_api_served_and_stopped(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """The tour serves the API on loopback: the DPO's read is 200, the admin's 403."""
        code, out, err = gdpr(
            database_env, "--data-dir", str(tmp_path / "demo"), "demo", "--candidates", "60"
        )
        assert code == 0, err
        assert "  as the DPO: 200" in out
        assert "  as the admin: 403 access denied" in out
        assert out.rstrip().endswith("then stopped.")
