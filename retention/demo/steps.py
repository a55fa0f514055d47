"""What a step of `gdpr demo` is: a function of the seeded installation and the demo's instant,
returning lines for a person and the same facts as data. Its own module so that each capability's
step (access, sweep, audit, evidence) and the tour that runs them import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from retention.install import Installation

__all__ = ["DemoStep", "StepReport"]


@dataclass(frozen=True)
class StepReport:
    """What one step did: lines for a person, and the same facts as JSON-ready data."""

    name: str
    lines: list[str]
    data: Any = None


# A step receives the seeded installation and the demo's instant.
DemoStep = Callable[[Installation, datetime], StepReport]
