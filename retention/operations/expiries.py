"""The daily expiry check as the scheduler (or any front end) asks for it.

It counts grants and consents that lapsed or are about to and appends one `expiries.check` entry
with the counts, acting as the principal. Counts are no personal data and change nothing, so the
check needs no permission beyond being an authenticated principal: it is on the record under the
principal's id either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from retention.access import ExpiryCounts, PrincipalView, check_expiries
from retention.clock import Clock, utc_now
from retention.install import Installation
from retention.store import transaction

__all__ = ["CheckExpiries", "ExpiryCounts", "expiry_check"]


@dataclass(frozen=True)
class CheckExpiries:
    """Count what lapsed in the last day and what lapses soon (there is nothing to choose)."""


def expiry_check(
    installation: Installation,
    principal: PrincipalView,
    request: CheckExpiries,
    *,
    clock: Clock = utc_now,
) -> ExpiryCounts:
    """Count, audit the counts, commit."""
    with transaction(installation.engine) as conn:
        return check_expiries(conn, actor=str(principal.id), clock=clock)
