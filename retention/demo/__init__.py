"""What only the demo and the benchmarks use: the `gdpr demo` tour, synthetic candidates from
locale pools, bulk seeding, and synthetic populations for sweep tests.
"""

from __future__ import annotations

from retention.demo.seeding import (
    DEFAULT_DOCUMENT_FRACTION,
    Progress,
    SeedDemo,
    SeedReport,
    seed_candidates,
    seed_demo,
)
from retention.demo.steps import DemoStep, StepReport
from retention.demo.synthetic import CANDIDATE_COLUMNS, generate_batches
from retention.demo.tour import DEFAULT_CANDIDATES, DemoRequest, DemoSummary, demo, run_demo

__all__ = [
    "CANDIDATE_COLUMNS",
    "DEFAULT_CANDIDATES",
    "DEFAULT_DOCUMENT_FRACTION",
    "DemoRequest",
    "DemoStep",
    "DemoSummary",
    "Progress",
    "SeedDemo",
    "SeedReport",
    "StepReport",
    "demo",
    "generate_batches",
    "run_demo",
    "seed_candidates",
    "seed_demo",
]
