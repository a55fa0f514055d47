"""The demo job: a marked installation, seeded and summarized, never replacing a real one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.config import Config, load_config
from retention.demo import run_demo
from retention.demo.tour import DEMO_MARKER, StepReport, inventory
from retention.errors import InstallationError
from retention.install import Installation, initialize
from retention.testing import DatabaseFactory

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def demo_config(tmp_path: Path, db_factory: DatabaseFactory) -> Config:
    url = db_factory.empty() if db_factory.dialect == "postgresql" else None
    return load_config(tmp_path / "demo", url, env={})


class TestRunDemo:
    def test_summary_matches_the_seed(self, demo_config: Config) -> None:
        """The inventory counts what was seeded, per country and status, and marks the directory."""
        summary = run_demo(demo_config, candidates=150, seed=3, now=NOW)
        inv = summary.inventory
        assert inv.candidates == summary.seed.candidates == 150
        assert sum(inv.by_status.values()) == 150
        assert inv.applications == summary.seed.applications
        consents = inv.consents_active + inv.consents_expired + inv.consents_withdrawn
        assert consents == summary.seed.consents
        assert (demo_config.data_dir / DEMO_MARKER).exists()

    def test_steps_run_after_seeding(self, demo_config: Config) -> None:
        """Later capabilities' steps see the seeded installation and add their lines."""

        def step(installation: Installation, now: datetime) -> StepReport:
            seen = inventory(installation.engine, now).candidates
            return StepReport("count", [f"step saw {seen} candidates"], seen)

        summary = run_demo(demo_config, candidates=10, now=NOW, steps=[step])
        assert summary.notes == ["step saw 10 candidates"]
        assert summary.steps == {"count": 10}

    def test_fresh_recreates_only_a_demo(self, demo_config: Config) -> None:
        """--fresh replaces an earlier demo; without it the demo refuses."""
        run_demo(demo_config, candidates=10, now=NOW)
        with pytest.raises(InstallationError, match="already holds a demo"):
            run_demo(demo_config, candidates=10, now=NOW)
        summary = run_demo(demo_config, candidates=12, now=NOW, fresh=True)
        assert summary.inventory.candidates == 12

    def test_real_installation_is_refused(self, demo_config: Config) -> None:
        """An installation made by gdpr init is never wiped, even with fresh."""
        installation, _ = initialize(demo_config)
        installation.engine.dispose()
        with pytest.raises(InstallationError, match="not made by the demo"):
            run_demo(demo_config, candidates=10, now=NOW, fresh=True)
