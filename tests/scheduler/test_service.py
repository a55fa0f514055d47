"""The scheduler: cron jobs in the configured timezone, safe defaults, run-once, graceful stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from retention.config import Config, Schedule
from retention.errors import BadInput
from retention.install import Installation
from retention.scheduler import next_runs, run_once
from retention.scheduler.service import MISFIRE_GRACE, build_scheduler


def with_config(installation: Installation, **changes: Any) -> Installation:
    fields = {**installation.config.__dict__, **changes}
    return Installation(Config(**fields), installation.engine)


class TestSchedule:
    def test_defaults_and_timezone(self, installation: Installation) -> None:
        """The sweep runs at 02:00 in the configured zone, the checkpoint hourly."""
        inst = with_config(installation, timezone="Europe/Bucharest")
        now = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)  # 13:30 in Bucharest (EEST)
        runs = {j.name: j for j in next_runs(inst, now)}
        sweep = runs["sweep"].next_run
        assert sweep is not None and (sweep.hour, sweep.minute) == (2, 0)
        assert sweep.utcoffset().total_seconds() == 3 * 3600  # type: ignore[union-attr]
        assert runs["checkpoint"].next_run == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)

    def test_job_defaults_and_ids(self, installation: Installation) -> None:
        """Jobs coalesce, never overlap, tolerate late starts, and have stable ids."""
        jobs = {name: (lambda stop: {}) for name in ("sweep", "checkpoint", "expiries")}
        scheduler = build_scheduler(installation, jobs, threading.Event(), blocking=False)
        scheduler.start(paused=True)
        try:
            got = {j.id: j for j in scheduler.get_jobs()}
            assert set(got) == {"sweep", "checkpoint", "expiries"}
            for job in got.values():
                assert job.coalesce is True and job.max_instances == 1
                assert job.misfire_grace_time == MISFIRE_GRACE.total_seconds()
        finally:
            scheduler.shutdown(wait=False)

    def test_bad_cron_is_bad_input(self, installation: Installation) -> None:
        """A schedule that is not crontab syntax is reported as a configuration error."""
        inst = with_config(installation, schedule=Schedule(sweep="every night"))
        with pytest.raises(BadInput, match="crontab"):
            next_runs(inst)


class TestRunOnce:
    def test_runs_the_job_with_the_stop_flag(self) -> None:
        """run-once calls the job now and returns its summary with a run id."""
        seen: list[threading.Event] = []
        stop = threading.Event()
        done = run_once("sweep", {"sweep": lambda s: seen.append(s) or {"acted": 3}}, stop)
        assert done.summary == {"acted": 3} and seen == [stop] and len(done.run_id) == 36

    def test_unknown_job(self, tmp_path: Path) -> None:
        """An unknown job name is bad input naming the choices."""
        with pytest.raises(BadInput, match="sweep"):
            run_once("nightly", {"sweep": lambda s: {}})
