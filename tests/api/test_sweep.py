"""`/v1/sweep` in process: the plan, starting a run in the background (one at a time), the runs."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from retention.sweep.lease import LeaseOwner, acquire, release
from tests.access_support import World, add_candidate
from tests.api.conftest import audit_entries, bearer


def old_rejected(world: World) -> uuid.UUID:
    """A NL candidate rejected four years ago: due under the default policies."""
    at = world.clock() - timedelta(days=4 * 365)
    return add_candidate(world.engine, "NL", at, status="rejected", decided_at=at)


def wait_done(api: TestClient, token: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = api.get(f"/v1/sweep/runs/{run_id}", headers=bearer(token))
        assert run.status_code == 200, run.text
        if run.json()["status"] != "running":
            return dict(run.json())
        time.sleep(0.05)
    raise AssertionError("the run did not finish")


class TestPlan:
    def test_plan_counts_and_is_audited_via_api(self, api: TestClient, world: World) -> None:
        old_rejected(world)
        response = api.get("/v1/sweep/plan", headers=bearer(world.dpo.token))
        assert response.status_code == 200, response.text
        plan = response.json()
        assert plan["due"] >= 1 and plan["subjects"] >= 4
        assert sum(plan["by_action"].values()) == plan["due"]
        entry = audit_entries(world.engine, action="sweep.plan")[-1]
        assert entry["details"]["via"]["request_id"] == response.headers["X-Request-ID"]

    def test_plan_of_one_country(self, api: TestClient, world: World) -> None:
        response = api.get(
            "/v1/sweep/plan", params={"country": "de"}, headers=bearer(world.dpo.token)
        )
        assert response.status_code == 200
        assert response.json()["country"] == "DE"
        assert {r["country"] for r in response.json()["rows"]} <= {"DE"}

    def test_unknown_country_is_400(self, api: TestClient, world: World) -> None:
        response = api.get(
            "/v1/sweep/plan", params={"country": "ZZ"}, headers=bearer(world.dpo.token)
        )
        assert response.status_code == 400

    def test_recruiter_is_403(self, api: TestClient, world: World) -> None:
        assert api.get("/v1/sweep/plan", headers=bearer(world.recruiter.token)).status_code == 403


class TestRuns:
    def test_start_is_202_then_the_run_completes(self, api: TestClient, world: World) -> None:
        subject = old_rejected(world)
        response = api.post("/v1/sweep/runs", json={}, headers=bearer(world.dpo.token))
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]
        assert response.headers["Location"] == f"/v1/sweep/runs/{run_id}"
        run = wait_done(api, world.dpo.token, run_id)
        assert run["status"] == "completed"
        assert run["acted"] >= 1 and run["actor"] == str(world.dpo.principal_id)
        acted = audit_entries(world.engine, subject=subject)[-1]
        assert acted["action"].startswith("candidate.")
        for entry in (  # every entry of the run is traced to the request that started it
            acted,
            audit_entries(world.engine, action="sweep.start")[-1],
            audit_entries(world.engine, action="sweep.finish")[-1],
        ):
            assert entry["details"]["via"] == {
                "channel": "api",
                "request_id": response.headers["X-Request-ID"],
            }
        listed = api.get("/v1/sweep/runs", headers=bearer(world.dpo.token)).json()
        assert [r["id"] for r in listed["items"]] == [run_id]

    def test_second_start_while_one_holds_the_lease_is_409(
        self, api: TestClient, world: World
    ) -> None:
        other = acquire(world.engine, "sweep", LeaseOwner("elsewhere", 1, "abc"), clock=world.clock)
        assert other is not None
        try:
            response = api.post("/v1/sweep/runs", json={}, headers=bearer(world.dpo.token))
        finally:
            release(world.engine, other)
        assert response.status_code == 409
        assert "another sweep holds the lease (elsewhere:1:abc)" in response.json()["detail"]
        assert api.get("/v1/sweep/runs", headers=bearer(world.dpo.token)).json()["items"] == []

    def test_recruiter_may_not_start_and_is_on_record(self, api: TestClient, world: World) -> None:
        response = api.post("/v1/sweep/runs", json={}, headers=bearer(world.recruiter.token))
        assert response.status_code == 403
        entry = audit_entries(world.engine, action="sweep.run")[-1]
        assert entry["outcome"] == "denied" and entry["details"]["via"]["channel"] == "api"

    def test_runs_page_by_cursor(self, api: TestClient, world: World) -> None:
        ids = []
        for _ in range(3):
            started = api.post("/v1/sweep/runs", json={"limit": 1}, headers=bearer(world.dpo.token))
            assert started.status_code == 202, started.text
            ids.append(started.json()["run_id"])
            wait_done(api, world.dpo.token, ids[-1])
        first = api.get("/v1/sweep/runs", params={"limit": 2}, headers=bearer(world.dpo.token))
        page = first.json()
        assert len(page["items"]) == 2 and page["next"]
        second = api.get(
            "/v1/sweep/runs",
            params={"limit": 2, "cursor": page["next"]},
            headers=bearer(world.dpo.token),
        ).json()
        assert second["next"] is None
        assert sorted(r["id"] for r in page["items"] + second["items"]) == sorted(ids)

    def test_unknown_run_is_404(self, api: TestClient, world: World) -> None:
        response = api.get(f"/v1/sweep/runs/{uuid.uuid4()}", headers=bearer(world.dpo.token))
        assert response.status_code == 404

    def test_unknown_field_is_422(self, api: TestClient, world: World) -> None:
        response = api.post("/v1/sweep/runs", json={"dry": True}, headers=bearer(world.dpo.token))
        assert response.status_code == 422
