"""`gdpr evidence export|verify` through the real entry point: output, JSON, exit codes, access."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from retention.testing import DatabaseFactory
from tests.cli_support import Gdpr, Run, init_tokens


def gdpr(data: Path, env: dict[str, str], *args: str) -> Run:
    """`gdpr --data-dir DATA ARGS` in exactly the environment `env` (token included)."""
    return Gdpr(data, env)(*args)


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, db_factory: DatabaseFactory
) -> tuple[Path, dict[str, str], dict[str, str]]:
    """An installation made by `gdpr init`, its environment, and the bootstrap tokens by role."""
    root = tmp_path_factory.mktemp("cli-evidence")
    env = {"GDPR_DATABASE_URL": db_factory.empty(), "GDPR_TOKEN": ""}
    data = root / "data"
    tokens = init_tokens(env, data)
    return data, env, tokens


@pytest.fixture
def pack(site: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path) -> Path:
    data, env, tokens = site
    out = gdpr(
        data, {**env, "GDPR_TOKEN": tokens["dpo"]}, "evidence", "export",
        "--from", "2020-01-01", "--to", "2099-12-31", "--out", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert out.code == 0, out.err
    return Path(json.loads(out.out)["path"])


class TestExport:
    def test_dpo_exports_a_verified_pack(
        self, site: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
    ) -> None:
        """A DPO's export prints where the pack is, that it verified, and the key fingerprint."""
        data, env, tokens = site
        out = gdpr(
            data, {**env, "GDPR_TOKEN": tokens["dpo"]}, "evidence", "export",
            "--from", "2020-01-01", "--to", "2099-12-31", "--out", str(tmp_path),
        )  # fmt: skip
        assert (out.code, out.err) == (0, "")
        assert out.out.startswith(f"Wrote {tmp_path}/EVIDENCE_2020-01-01_2099-12-31_")
        assert "  verified: OK" in out.out
        assert "Fingerprint:  " in out.out

    def test_json_output(self, pack: Path) -> None:
        """--json gives the path, the key, its fingerprint and the verification verdict."""
        assert pack.is_dir()
        assert (pack / "policies" / "index.json").exists()
        assert any(p.suffix == ".policy" for p in (pack / "policies").iterdir())

    def test_recruiter_is_denied_and_audited(
        self, site: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
    ) -> None:
        """Without evidence:export the export is refused (exit 1), nothing is written, and a
        denied entry is on the record."""
        data, env, tokens = site
        admin = {**env, "GDPR_TOKEN": tokens["admin"]}
        out = gdpr(
            data, admin, "evidence", "export",
            "--from", "2020-01-01", "--to", "2020-01-31", "--out", str(tmp_path / "x"),
        )  # fmt: skip
        assert out.code == 1
        assert out.err.startswith("Error: access denied: evidence:export")
        assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())

    def test_no_token(
        self, site: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
    ) -> None:
        """Without a token the export is refused before anything happens."""
        data, env, _ = site
        out = gdpr(
            data, env, "evidence", "export",
            "--from", "2020-01-01", "--to", "2020-01-31", "--out", str(tmp_path),
        )  # fmt: skip
        assert out.code != 0
        assert out.err.startswith("Error: ")

    def test_bad_dates(
        self, site: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
    ) -> None:
        """A date that is not YYYY-MM-DD is a usage error (exit 2)."""
        data, env, tokens = site
        out = gdpr(
            data, {**env, "GDPR_TOKEN": tokens["dpo"]}, "evidence", "export",
            "--from", "01/02/2026", "--to", "2026-02-28", "--out", str(tmp_path),
        )  # fmt: skip
        assert out.code == 2


class TestExportRefusals:
    """Bad targets and periods: exit 2 with one line, nothing written, nothing overwritten."""

    def _export(self, site: tuple[Path, dict[str, str], dict[str, str]], *args: str) -> Any:
        data, env, tokens = site
        return gdpr(data, {**env, "GDPR_TOKEN": tokens["dpo"]}, "evidence", "export", *args)

    def test_calendar_ends_are_refused(
        self, site: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
    ) -> None:
        """--to 9999-12-31 has no day after it: exit 2, not an OverflowError."""
        out = tmp_path / "out"
        run = self._export(site, "--from", "1900-01-01", "--to", "9999-12-31", "--out", str(out))
        assert (run.code, run.err) == (2, "Error: --to must be 9999-12-30 or earlier\n")
        assert not out.exists()

    def test_zip_onto_a_taken_name(
        self, site: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
    ) -> None:
        """--zip where the pack's folder exists, or where its .zip is a dangling symlink."""
        period = ("--from", "2020-01-01", "--to", "2020-12-31")
        out = tmp_path / "out"
        first = self._export(site, *period, "--out", str(out), "--json")
        folder = Path(json.loads(first.out)["path"])
        run = self._export(site, *period, "--out", str(out), "--zip")
        assert (run.code, run.err) == (
            2,
            f"Error: {folder} already exists: remove it or choose another --out\n",
        )
        other = tmp_path / "other"
        other.mkdir()
        link = other / (folder.name + ".zip")
        link.symlink_to(tmp_path / "nowhere")
        run = self._export(site, *period, "--out", str(other), "--zip")
        assert (run.code, run.err) == (
            2,
            f"Error: {link} already exists: remove it or choose another --out\n",
        )
        assert sorted(p.name for p in other.iterdir()) == [link.name]

    def test_missing_parent_is_not_created(
        self, site: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
    ) -> None:
        """--out /missing/dir creates nothing: only the last component may be new."""
        out = tmp_path / "missing" / "dir"
        run = self._export(site, "--from", "2020-01-01", "--to", "2020-12-31", "--out", str(out))
        assert (run.code, run.err) == (
            2,
            f"Error: {out.parent} is not a directory: create it or choose another --out\n",
        )
        assert not out.parent.exists()


class TestVerify:
    def test_ok_summary_and_exit_0(
        self, site: tuple[Path, dict[str, str], dict[str, str]], pack: Path
    ) -> None:
        """A good pack verifies offline, with no database configured at all."""
        key = pack / "verifier-key.txt"
        out = gdpr(Path("/nonexistent"), {"GDPR_DATABASE_URL": ""}, "evidence", "verify",
                   str(pack), "--key", str(key))  # fmt: skip
        assert out.code == 0, out.err
        assert out.out.startswith(f"OK: evidence pack {pack} verifies.")
        assert "signatures checked with the key given with --key" in out.out

    def test_failure_names_file_and_line(
        self, site: tuple[Path, dict[str, str], dict[str, str]], pack: Path, tmp_path: Path
    ) -> None:
        """An edited pack exits 1, naming the file and line in the one-line error."""
        bad = tmp_path / "bad"
        shutil.copytree(pack, bad)
        log = bad / "audit-log.jsonl"
        lines = log.read_bytes().splitlines(keepends=True)
        del lines[2]
        log.write_bytes(b"".join(lines))
        out = gdpr(Path("/nonexistent"), {}, "evidence", "verify", str(bad), "--json")
        assert out.code == 1
        report = json.loads(out.out)
        assert report["ok"] is False
        first = report["problems"][0]
        assert (first["file"], first["where"]) == ("audit-log.jsonl", "line 3")
        assert out.err.startswith("Error: evidence pack does not verify: audit-log.jsonl")

    def test_missing_folder_is_usage_error(self, tmp_path: Path) -> None:
        """A path that does not exist is a usage error (exit 2)."""
        out = gdpr(tmp_path, {}, "evidence", "verify", str(tmp_path / "nope"))
        assert out.code == 2
