"""The sweep lease: one holder at a time, taken over only when expired or its process is dead."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from retention.store import connect, transaction
from retention.sweep.lease import LeaseLost, LeaseOwner, acquire, holder, release, renew
from retention.testing import DatabaseFactory, FixedClock


@pytest.fixture
def engine(any_factory: DatabaseFactory) -> Iterator[Engine]:
    """Both backends: the lease must be atomic on each."""
    eng = connect(any_factory.migrated())
    yield eng
    eng.dispose()


class TestLease:
    def test_one_holder_at_a_time(self, engine: Engine) -> None:
        """While a live holder has the lease, another owner gets nothing."""
        a, b = LeaseOwner.this_process(), LeaseOwner.this_process()
        lease = acquire(engine, "sweep", a)
        assert lease is not None
        assert acquire(engine, "sweep", b) is None
        assert holder(engine, "sweep") == str(a)
        release(engine, lease)
        assert holder(engine, "sweep") is None
        assert acquire(engine, "sweep", b) is not None

    def test_expired_lease_is_taken_over_and_fences_the_old_holder(self, engine: Engine) -> None:
        """After expiry another owner takes the lease, and the old holder's renew fails."""
        clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
        old = acquire(
            engine,
            "sweep",
            LeaseOwner("other-host", 1, "x"),
            ttl=timedelta(seconds=30),
            clock=clock,
        )
        assert old is not None
        clock.advance(timedelta(seconds=31))
        new = acquire(engine, "sweep", LeaseOwner.this_process(), clock=clock)
        assert new is not None and new.previous_owner == old.owner
        with pytest.raises(LeaseLost), transaction(engine) as conn:
            renew(conn, old, clock=clock)

    def test_dead_local_owner_is_taken_over_at_once(self, engine: Engine) -> None:
        """A lease whose owner ran on this host and has exited is free before its expiry."""
        proc = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        dead = LeaseOwner(LeaseOwner.this_process().host, int(proc.stdout), "dead")
        assert acquire(engine, "sweep", dead, ttl=timedelta(hours=1)) is not None
        assert acquire(engine, "sweep", LeaseOwner.this_process()) is not None

    def test_live_remote_owner_is_respected(self, engine: Engine) -> None:
        """An owner on another host is never presumed dead before its expiry."""
        assert (
            acquire(engine, "sweep", LeaseOwner("elsewhere", 1, "a"), ttl=timedelta(hours=1))
            is not None
        )
        assert acquire(engine, "sweep", LeaseOwner.this_process()) is None
