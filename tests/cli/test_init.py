"""`gdpr init`, `gdpr db ...` and the CLI's error mapping, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

from retention.testing import DatabaseFactory
from tests.cli_support import gdpr


class TestInit:
    def test_init_creates_installation_at_head(
        self, tmp_path: Path, db_factory: DatabaseFactory
    ) -> None:
        """A new data dir gets the schema at head; `db current` then reports it up to date."""
        env = {"GDPR_DATABASE_URL": db_factory.empty()}
        data = tmp_path / "data"
        first = gdpr(env, "--data-dir", str(data), "init", "--json")
        assert first.code == 0, first.err
        current = gdpr(env, "--data-dir", str(data), "db", "current", "--json")
        assert json.loads(current.out)["up_to_date"] is True
        assert oct(data.stat().st_mode & 0o777) == "0o700"

    def test_init_json_is_structured(self, tmp_path: Path, db_factory: DatabaseFactory) -> None:
        """--json gives the revision, the verifier key and the principals with their tokens."""
        env = {"GDPR_DATABASE_URL": db_factory.empty()}
        data = tmp_path / "data"
        done = gdpr(env, "--data-dir", str(data), "init", "--json")
        assert (done.code, done.err) == (0, "")
        result = json.loads(done.out)
        assert set(result) == {"data_dir", "revision", "verifier_key", "principals"}
        assert result["data_dir"] == str(data)
        assert result["verifier_key"].startswith("gdpr-")
        assert [(p["name"], p["role"]) for p in result["principals"]] == [
            ("admin", "admin"),
            ("dpo", "dpo"),
        ]
        assert all(p["token"].startswith("gdpr_") and p["id"] for p in result["principals"])
        text = gdpr(
            {"GDPR_DATABASE_URL": db_factory.empty()}, "--data-dir", str(tmp_path / "other"), "init"
        )
        assert text.out.splitlines()[0].startswith(f"Initialized {tmp_path / 'other'} (schema ")

    def test_second_init_is_refused(self, tmp_path: Path, db_factory: DatabaseFactory) -> None:
        """Running init twice on one data dir refuses with one line and exit 2."""
        env = {"GDPR_DATABASE_URL": db_factory.empty()}
        data = tmp_path / "data"
        assert gdpr(env, "--data-dir", str(data), "init").code == 0
        again = gdpr(env, "--data-dir", str(data), "init")
        assert again.code == 2
        assert again.err == (
            f"Error: {data} already holds an installation: use 'gdpr db upgrade', "
            "or choose another --data-dir\n"
        )

    def test_init_on_used_database_leaves_nothing(
        self, tmp_path: Path, db_factory: DatabaseFactory
    ) -> None:
        """A database that already has tables is refused, and the new data dir is removed again."""
        env = {"GDPR_DATABASE_URL": db_factory.migrated()}
        data = tmp_path / "data"
        result = gdpr(env, "--data-dir", str(data), "init")
        assert result.code == 2
        assert "the database already has tables" in result.err
        assert "Traceback" not in result.err
        assert not data.exists()

    def test_unwritable_parent_is_refused(self) -> None:
        """A data dir that cannot be created gets one line naming the directory (even as root)."""
        result = gdpr({}, "--data-dir", "/sys/gdpr-test-data", "init")
        assert result.code == 2
        assert result.err == (
            "Error: cannot write to data directory /sys/gdpr-test-data (Operation not permitted): "
            "fix permissions or pass --data-dir\n"
        )

    def test_data_dir_that_is_a_file_is_refused(self, tmp_path: Path) -> None:
        """A data dir path naming a file is refused before anything is created."""
        path = tmp_path / "file"
        path.write_text("x")
        result = gdpr({}, "--data-dir", str(path), "init")
        assert result.code == 2
        assert "Invalid value for '--data-dir'" in result.err
        assert "is a file" in result.err
        assert "Traceback" not in result.err

    def test_unreachable_database_is_one_line(self, tmp_path: Path) -> None:
        """A PostgreSQL URL nobody answers gives one clear line and leaves no data dir."""
        env = {"GDPR_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
        data = tmp_path / "data"
        result = gdpr(env, "--data-dir", str(data), "init")
        assert result.code == 2
        assert result.err == (
            "Error: cannot connect to the database: check GDPR_DATABASE_URL and that the "
            "server is running\n"
        )
        assert not data.exists()

    def test_bad_url_is_one_line(self, tmp_path: Path) -> None:
        """An unsupported URL scheme is named, with what to use instead."""
        env = {"GDPR_DATABASE_URL": "mysql://root@localhost/x"}
        result = gdpr(env, "--data-dir", str(tmp_path / "d"), "init")
        assert result.code == 2
        assert result.err == (
            "Error: database 'mysql' is not supported: use SQLite or PostgreSQL\n"
        )


class TestCommandsNeedInstallation:
    def test_db_current_without_installation(self, tmp_path: Path) -> None:
        """A command on a directory without an installation says to run init."""
        result = gdpr({}, "--data-dir", str(tmp_path / "none"), "db", "current")
        assert result.code == 2
        assert result.err == (
            f"Error: no installation in {tmp_path / 'none'}: run 'gdpr init' first (or pass --data-dir)\n"
        )


class TestUsage:
    def test_unknown_command_exits_2(self) -> None:
        """Bad usage is exit 2 with click's usage message, never a traceback."""
        result = gdpr({}, "frobnicate")
        assert result.code == 2
        assert "No such command 'frobnicate'" in result.err

    def test_version(self) -> None:
        """--version prints the distribution's version and exits 0."""
        result = gdpr({}, "--version")
        assert result.code == 0
        assert result.out.startswith("gdpr, version ")
