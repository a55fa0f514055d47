"""Rate limits (429 with Retry-After) and failed authentications audited per source and minute."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi.testclient import TestClient

from retention.api.limits import AuthFailures, FailureWindow, RateLimiter, source_of
from retention.api.problems import ApiProblem
from retention.install import Installation
from retention.testing import FixedClock
from tests.access_support import World
from tests.api.conftest import app_with, audit_entries, bearer

BAD = "gdpr_" + "B" * 43
CLIENT = ("203.0.113.7", 50000)


def test_source_is_the_network_not_the_address() -> None:
    assert source_of("203.0.113.7") == "203.0.113.0/24"
    assert source_of("2001:db8:1:2::7") == "2001:db8:1::/48"
    assert source_of("testclient") == "unknown"
    assert source_of(None) == "unknown"


class TestFailedAuthentication:
    def test_one_entry_at_once_then_one_with_the_count(
        self, installation: Installation, clock: FixedClock, world: World
    ) -> None:
        app = app_with(installation, clock)
        before = len(audit_entries(world.engine, action="auth.failed"))
        with TestClient(app, client=CLIENT) as client:
            for _ in range(10):
                response = client.get(f"/v1/candidates/{world.nl}", headers=bearer(BAD))
                assert response.status_code == 401
            during = audit_entries(world.engine, action="auth.failed")[before:]
        # The lifespan's shutdown flushed the rest of the minute as one entry.
        after = audit_entries(world.engine, action="auth.failed")[before:]
        assert len(during) == 1
        assert during[0]["details"]["count"] == 1
        assert during[0]["details"]["source"] == "203.0.113.0/24"
        assert len(after) == 2
        rest = after[1]["details"]
        assert rest["aggregated"] is True
        assert rest["count"] == 9
        assert rest["reasons"] == {"unknown token": 9}
        assert rest["via"] == {"channel": "api"}
        assert "203.0.113.7" not in str(after)

    def test_too_many_failures_refuse_the_source_even_with_a_good_token(
        self, installation: Installation, clock: FixedClock, world: World
    ) -> None:
        app = app_with(installation, clock, auth_failures_per_minute=3)
        url = f"/v1/candidates/{world.nl}"
        with TestClient(app, client=CLIENT) as client:
            codes = [client.get(url, headers=bearer(BAD)).status_code for _ in range(4)]
            good = client.get(url, headers=bearer(world.recruiter.token))
        assert codes == [401, 401, 401, 429]
        assert good.status_code == 429
        assert 1 <= int(good.headers["Retry-After"]) <= 60
        assert good.headers["content-type"] == "application/problem+json"
        with TestClient(app, client=("198.51.100.1", 1)) as other:
            assert other.get(url, headers=bearer(world.recruiter.token)).status_code == 200


class TestRateLimits:
    def test_per_principal(
        self, installation: Installation, clock: FixedClock, world: World
    ) -> None:
        app = app_with(installation, clock, principal_rate_per_minute=2)
        url = f"/v1/candidates/{world.nl}"
        with TestClient(app, client=CLIENT) as client:
            codes = [
                client.get(url, headers=bearer(world.recruiter.token)).status_code for _ in range(3)
            ]
            dpo = client.get(url, headers=bearer(world.dpo.token))
        assert codes == [200, 200, 429]
        assert dpo.status_code == 200  # another principal has its own budget

    def test_per_source(self, installation: Installation, clock: FixedClock, world: World) -> None:
        app = app_with(installation, clock, source_rate_per_minute=2)
        url = f"/v1/candidates/{world.nl}"
        with TestClient(app, client=CLIENT) as client:
            codes = [client.get(url, headers=bearer(world.dpo.token)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]

    def test_window_resets_and_zero_is_off(self) -> None:
        now = [120.0]
        limiter = RateLimiter(1, "principal", clock=lambda: now[0])
        limiter.hit("p")
        with pytest.raises(ApiProblem) as caught:
            limiter.hit("p")
        assert caught.value.headers["Retry-After"] == "60"
        now[0] = 180.0
        limiter.hit("p")
        unlimited = RateLimiter(0, "principal")
        for _ in range(1000):
            unlimited.hit("p")


def test_a_finished_minute_is_recorded_at_the_next_flush() -> None:
    now = [0.0]
    recorded: list[tuple[FailureWindow, bool]] = []
    failures = AuthFailures(100, lambda w, first: recorded.append((w, first)), clock=lambda: now[0])
    for _ in range(3):
        failures.failed("net", "unknown token", None)
    failures.failed("net", "revoked token", "p-1")
    assert [(w.count, first) for w, first in recorded] == [(1, True)]
    failures.flush()  # same minute: nothing yet
    assert len(recorded) == 1
    now[0] = 61.0
    failures.failed("net", "unknown token", None)  # a new minute: its own first entry
    failures.flush()
    assert [(w.count, first) for w, first in recorded] == [(1, True), (1, True), (3, False)]
    rest = recorded[2][0]
    assert rest.reasons == Counter({"unknown token": 2, "revoked token": 1})
    assert rest.principals == {"p-1"}
