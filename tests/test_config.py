"""The configuration: gdpr.toml read once, every wrong value refused with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from retention.config import MAX_SWEEP_WORKERS, Config, load_config
from retention.errors import BadInput

PG = "postgresql+psycopg://app@db.internal/gdpr"


def config_with(tmp_path: Path, toml: str, url: str | None = None) -> Config:
    (tmp_path / "gdpr.toml").write_text(toml)
    return load_config(tmp_path, url, env={})


class TestSweepWorkers:
    def test_default_leaves_the_choice_to_the_sweep(self, tmp_path: Path) -> None:
        assert config_with(tmp_path, "").sweep_workers is None

    @pytest.mark.parametrize("workers", [1, 4, MAX_SWEEP_WORKERS])
    def test_workers_on_postgresql(self, tmp_path: Path, workers: int) -> None:
        config = config_with(tmp_path, f"[sweep]\nworkers = {workers}\n", PG)
        assert config.sweep_workers == workers

    def test_one_worker_on_sqlite(self, tmp_path: Path) -> None:
        assert config_with(tmp_path, "[sweep]\nworkers = 1\n").sweep_workers == 1

    def test_several_workers_on_sqlite_are_refused(self, tmp_path: Path) -> None:
        with pytest.raises(BadInput, match=r"workers above 1 need PostgreSQL"):
            config_with(tmp_path, "[sweep]\nworkers = 2\n")

    @pytest.mark.parametrize("value", ["0", str(MAX_SWEEP_WORKERS + 1), '"2"', "2.0", "true", "-1"])
    def test_workers_not_a_whole_number_in_range(self, tmp_path: Path, value: str) -> None:
        with pytest.raises(BadInput, match=r"whole number from 1 to 16"):
            config_with(tmp_path, f"[sweep]\nworkers = {value}\n", PG)

    def test_unknown_sweep_setting(self, tmp_path: Path) -> None:
        with pytest.raises(BadInput, match=r"\[sweep\] takes only workers"):
            config_with(tmp_path, "[sweep]\nbatch = 5\n", PG)


class TestRequests:
    def test_defaults(self, tmp_path: Path) -> None:
        """No [requests]: weekends only, closed requests kept three years, no processors."""
        settings = config_with(tmp_path, "").requests
        assert (settings.calendar, settings.keep_closed, settings.processors) == (None, "3y", ())

    def test_calendar_is_normalized(self, tmp_path: Path) -> None:
        config = config_with(tmp_path, '[requests]\ncalendar = "de-by"\nkeep_closed = "6m"\n')
        assert (config.requests.calendar, config.requests.keep_closed) == ("DE-BY", "6m")

    @pytest.mark.parametrize(
        ("toml", "message"),
        [
            ('calendar = "XX"', r"no public holidays known for 'XX'"),
            ('calendar = "DE-ZZ"', r"DE has no subdivision 'ZZ'"),
            ('keep_closed = "forever"', r"keep_closed must be a duration"),
            ("processors = [1]", r"processors must be a list of names"),
            ("colour = 1", r"takes only calendar, keep_closed and processors"),
        ],
    )
    def test_bad_values(self, tmp_path: Path, toml: str, message: str) -> None:
        with pytest.raises(BadInput, match=message):
            config_with(tmp_path, f"[requests]\n{toml}\n")

    def test_integration_targets_are_named(self, tmp_path: Path) -> None:
        config = config_with(
            tmp_path, "[integration.workday]\nurl = 'x'\n[integration.greenhouse]\n"
        )
        assert config.integration_targets == ("greenhouse", "workday")
