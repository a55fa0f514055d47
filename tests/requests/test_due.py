"""The due list, the scheduler's daily job over it, and the register's own retention."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from sqlalchemy import func, select

from retention.config import RequestSettings
from retention.install import Installation
from retention.operations import requests as ops
from retention.requests import expire_closed, keep_closed_cutoff
from retention.scheduler.service import default_jobs
from retention.store import DataRequest, RequestEvent, RequestType, transaction
from retention.testing import FixedClock
from tests.access_support import audit_rows
from tests.requests_support import RequestWorld, build_request_world

T = RequestType


@pytest.fixture
def rw(installation: Installation, clock: FixedClock) -> RequestWorld:
    return build_request_world(installation, clock)


def open_at(rw: RequestWorld, kind: RequestType, received: datetime, subject=None):
    request = ops.OpenRequest(kind, received, subject_id=subject or rw.world.nl, at=received)
    return ops.open_request(rw.installation, rw.dpo, request, clock=rw.world.clock)


class TestDueList:
    def test_overdue_and_due_soon_only_open(self, rw: RequestWorld) -> None:
        """Now 22 Nov 2026: due 2 Nov is overdue, due 27 Nov is soon, due 21 Dec is not listed,
        a closed one never is."""
        late = open_at(rw, T.ACCESS, datetime(2026, 10, 1, 9, tzinfo=UTC))
        soon = open_at(rw, T.ERASURE, datetime(2026, 10, 27, 9, tzinfo=UTC))
        open_at(rw, T.ACCESS, datetime(2026, 11, 20, 9, tzinfo=UTC), rw.world.de)
        closed = open_at(rw, T.ACCESS, datetime(2026, 10, 2, 9, tzinfo=UTC), rw.world.de)
        ops.withdraw_request(
            rw.installation, rw.dpo, ops.WithdrawRequest(closed.id), clock=rw.world.clock
        )
        due = ops.requests_due(
            rw.installation, rw.recruiter, ops.DueRequests(), clock=rw.world.clock
        )
        assert [i.id for i in due.overdue] == [late.id]
        assert [i.id for i in due.due_soon] == [soon.id]
        entry = audit_rows(rw.world.engine, action="request.due")[-1]
        assert b'"requests_overdue":1' in bytes(entry.canonical)

    def test_scheduler_daily_job_logs_each(self, rw: RequestWorld) -> None:
        """The daily job adds the counts to its summary and logs a line per request."""
        late = open_at(rw, T.ACCESS, datetime(2026, 10, 1, 9, tzinfo=UTC))
        jobs = default_jobs(rw.installation, rw.dpo, clock=rw.world.clock)
        with structlog.testing.capture_logs() as logs:
            summary = jobs["expiries"](__import__("threading").Event())
        assert (summary["requests_overdue"], summary["requests_due_7d"]) == (1, 0)
        (line,) = [entry for entry in logs if entry["event"] == "request_overdue"]
        assert line["id"] == str(late.id) and "subject" not in line


class TestKeepClosed:
    def test_cutoff(self, rw: RequestWorld) -> None:
        at = datetime(2029, 12, 1, tzinfo=UTC)
        assert keep_closed_cutoff(rw.installation.config, at) == datetime(2026, 12, 1, tzinfo=UTC)
        config = dataclasses.replace(
            rw.installation.config, requests=RequestSettings(keep_closed="90d")
        )
        assert keep_closed_cutoff(config, at) == at - timedelta(days=90)

    def test_expires_only_closed_requests_past_the_period(self, rw: RequestWorld) -> None:
        """Closed three years ago: deleted with its events, an entry on the subject's trail;
        closed later, or still open: kept."""
        old = open_at(rw, T.ACCESS, datetime(2023, 1, 10, 9, tzinfo=UTC))
        ops.withdraw_request(
            rw.installation,
            rw.dpo,
            ops.WithdrawRequest(old.id, at=datetime(2023, 1, 11, tzinfo=UTC)),
            clock=rw.world.clock,
        )
        recent = open_at(rw, T.ACCESS, datetime(2024, 1, 10, 9, tzinfo=UTC))
        ops.withdraw_request(
            rw.installation, rw.dpo, ops.WithdrawRequest(recent.id), clock=rw.world.clock
        )
        still_open = open_at(rw, T.ERASURE, datetime(2023, 1, 10, 9, tzinfo=UTC))
        with transaction(rw.world.engine) as conn:
            assert expire_closed(conn, rw.installation.config, "sweep", rw.world.clock()) == 1
        with rw.world.engine.connect() as conn:
            left = set(conn.execute(select(DataRequest.id)).scalars())
            events = conn.execute(
                select(func.count()).where(RequestEvent.request_id == old.id)
            ).scalar_one()
        assert left == {recent.id, still_open.id} and events == 0
        entry = audit_rows(rw.world.engine, action="request.expire")[-1]
        assert entry.subject == rw.world.nl and str(old.id).encode() in bytes(entry.canonical)

    def test_the_nightly_sweep_applies_it(self, rw: RequestWorld) -> None:
        old = open_at(rw, T.ACCESS, datetime(2023, 1, 10, 9, tzinfo=UTC))
        ops.withdraw_request(
            rw.installation,
            rw.dpo,
            ops.WithdrawRequest(old.id, at=datetime(2023, 1, 11, tzinfo=UTC)),
            clock=rw.world.clock,
        )
        from retention.operations import RunSweep, sweep

        result = sweep(rw.installation, rw.dpo, RunSweep(), clock=rw.world.clock)
        assert result.status == "completed" and result.requests_expired == 1
        assert result.to_json()["requests_expired"] == 1
