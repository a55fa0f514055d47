"""The long-running scheduler: the nightly sweep, hourly signed checkpoints and daily grant expiry
on cron triggers, each job calling the same operations as the CLI.
"""

from __future__ import annotations

from retention.scheduler.service import JOB_NAMES, default_jobs, next_runs, run_once, serve

__all__ = ["JOB_NAMES", "default_jobs", "next_runs", "run_once", "serve"]
