"""The nightly retention sweep: selecting due subjects with the compiled policies, the dry-run
plan, the actions (anonymize, delete, block, review) in batches, the lease that allows one run at a
time, legal holds and the review queue.
"""

from __future__ import annotations

from retention.sweep.anonymization import PHONE_PLACEHOLDER, MonthStart
from retention.sweep.holds import place_hold
from retention.sweep.plan import Plan, make_plan
from retention.sweep.run import (
    BATCH_SIZE,
    POSTGRESQL_WORKERS,
    Progress,
    SweepResult,
    lease_holder,
    run_sweep,
    take_lease,
)
from retention.sweep.selection import actionable_only, decisions

__all__ = [
    "BATCH_SIZE",
    "PHONE_PLACEHOLDER",
    "POSTGRESQL_WORKERS",
    "MonthStart",
    "Plan",
    "Progress",
    "SweepResult",
    "actionable_only",
    "decisions",
    "lease_holder",
    "make_plan",
    "place_hold",
    "run_sweep",
    "take_lease",
]
