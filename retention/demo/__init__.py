"""What only the demo and the benchmarks use: the `gdpr demo` tour, synthetic candidates from
locale pools, bulk seeding, and synthetic populations for sweep tests.
"""

from __future__ import annotations

from retention.demo.seeding import DEFAULT_DOCUMENT_FRACTION, Progress, SeedReport, seed_candidates
from retention.demo.synthetic import CANDIDATE_COLUMNS, generate_batches
from retention.demo.tour import DEFAULT_CANDIDATES, DemoStep, DemoSummary, run_demo

__all__ = [
    "CANDIDATE_COLUMNS",
    "DEFAULT_CANDIDATES",
    "DEFAULT_DOCUMENT_FRACTION",
    "DemoStep",
    "DemoSummary",
    "Progress",
    "SeedReport",
    "generate_batches",
    "run_demo",
    "seed_candidates",
]
