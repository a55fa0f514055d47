"""A lease in the database: at most one sweep acts at a time, across processes and machines.

A lease is a row (name, owner, expiry). Taking it is one conditional UPDATE (free, expired, or
held by a process of this host that no longer exists), which both SQLite and PostgreSQL execute
atomically: of two racing takers exactly one sees its row count at 1. The holder renews it inside
every batch transaction with `renew`, which also works as a fencing check: a sweep that lost its
lease (paused past the expiry while another took over) fails that UPDATE and rolls its batch back
instead of acting beside the new holder. A clean stop releases the lease; a killed process leaves
it to expire, or to be taken at once by the next process on the same host, which can see that the
owner's pid is gone.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from retention.clock import Clock, utc_now
from retention.errors import EngineError
from retention.store import SweepLease, table_of, transaction

__all__ = [
    "DEFAULT_TTL",
    "Lease",
    "LeaseLost",
    "LeaseOwner",
    "acquire",
    "holder",
    "release",
    "renew",
]

DEFAULT_TTL = timedelta(minutes=2)

_leases = table_of(SweepLease)


class LeaseLost(EngineError):
    """The lease expired and another process took it: stop without committing anything more."""

    exit_code = 1


@dataclass(frozen=True)
class LeaseOwner:
    """host:pid:random, so the same host can tell a dead owner from a live one."""

    host: str
    pid: int
    token: str

    @classmethod
    def this_process(cls) -> LeaseOwner:
        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex[:12])

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"

    @classmethod
    def parse(cls, text: str) -> LeaseOwner | None:
        host, sep, rest = text.rpartition(":")
        host, sep2, pid = host.rpartition(":")
        if not (sep and sep2 and pid.isdigit()):
            return None
        return cls(host, int(pid), rest)

    def is_dead_local_process(self) -> bool:
        """True only when this owner ran on this host and its pid is gone."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    expires_at: datetime
    previous_owner: str | None  # set when the lease was taken over from a dead or expired holder


def acquire(
    engine: Engine,
    name: str,
    owner: LeaseOwner,
    *,
    run_id: uuid.UUID | None = None,
    ttl: timedelta = DEFAULT_TTL,
    clock: Clock = utc_now,
) -> Lease | None:
    """Take the lease, or return None when another live holder has it."""
    with transaction(engine) as conn:
        try:
            with conn.begin_nested():
                conn.execute(insert(_leases).values(name=name))
        except IntegrityError:
            pass  # the row exists already: the usual case
        current = conn.execute(select(_leases).where(_leases.c.name == name)).one()
        now = clock()
        c = _leases.c
        takeable = [c.owner.is_(None), c.expires_at <= now, c.owner == str(owner)]
        current_owner = LeaseOwner.parse(current.owner) if current.owner else None
        if current_owner is not None and current_owner.is_dead_local_process():
            takeable.append(c.owner == current.owner)
        result = conn.execute(
            update(_leases)
            .where(c.name == name, or_(*takeable))
            .values(owner=str(owner), run_id=run_id, acquired_at=now, expires_at=now + ttl)
        )
        if result.rowcount != 1:
            return None
        previous = current.owner if current.owner and current.owner != str(owner) else None
        return Lease(name, str(owner), now + ttl, previous)


def renew(
    conn: Connection,
    lease: Lease,
    *,
    run_id: uuid.UUID | None = None,
    ttl: timedelta = DEFAULT_TTL,
    clock: Clock = utc_now,
) -> None:
    """Extend the lease in the caller's transaction; raise LeaseLost if it is no longer ours."""
    values: dict[str, object] = {"expires_at": clock() + ttl}
    if run_id is not None:
        values["run_id"] = run_id
    result = conn.execute(
        update(_leases)
        .where(_leases.c.name == lease.name, _leases.c.owner == lease.owner)
        .values(**values)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"the {lease.name} lease was taken over by another process")


def release(engine: Engine, lease: Lease) -> None:
    """Give the lease up (only if still ours)."""
    with transaction(engine) as conn:
        conn.execute(
            update(_leases)
            .where(_leases.c.name == lease.name, _leases.c.owner == lease.owner)
            .values(owner=None, run_id=None, expires_at=None)
        )


def holder(engine: Engine, name: str, *, clock: Clock = utc_now) -> str | None:
    """Who holds the lease now (None when free or expired)."""
    with engine.connect() as conn:
        row = conn.execute(select(_leases).where(_leases.c.name == name)).first()
    if row is None or row.owner is None or row.expires_at is None or row.expires_at <= clock():
        return None
    owner: str = row.owner
    return owner
