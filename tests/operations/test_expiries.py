"""The expiry check as an operation: counts audited under the calling principal."""

from __future__ import annotations

from retention.operations import CheckExpiries, expiry_check
from tests.access_support import World, audit_rows
from tests.operations.conftest import view


def test_counts_are_audited_as_the_principal(world: World) -> None:
    """One `expiries.check` entry, by the principal that ran it."""
    dpo = view(world.dpo)
    counts = expiry_check(world.installation, dpo, CheckExpiries(), clock=world.clock)
    assert counts.grants_expired_last_day == 0
    rows = audit_rows(world.engine, action="expiries.check")
    assert [r.actor for r in rows] == [str(dpo.id)]
