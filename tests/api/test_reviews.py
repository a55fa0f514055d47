"""`/v1/reviews` in process: the queue and a DPO's decisions, as `gdpr review` does."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from retention.store import transaction
from retention.sweep.review_queue import ReviewRequest, enqueue
from tests.access_support import World
from tests.api.conftest import audit_entries, bearer


def queue(world: World, *subjects: uuid.UUID) -> None:
    with transaction(world.engine) as conn:
        requests = [ReviewRequest(s, "NL", "NL", "hired", "cite") for s in subjects]
        enqueue(conn, requests, at=world.clock(), policy_hash="h" * 64, run_id=None)


class TestReviews:
    def test_list_open_items(self, api: TestClient, world: World) -> None:
        queue(world, world.nl)
        response = api.get("/v1/reviews", headers=bearer(world.dpo.token))
        assert response.status_code == 200
        [item] = response.json()["items"]
        assert item["subject_id"] == str(world.nl) and item["decision"] is None

    def test_recruiter_may_not_list_and_is_on_record(self, api: TestClient, world: World) -> None:
        assert api.get("/v1/reviews", headers=bearer(world.recruiter.token)).status_code == 403
        entry = audit_entries(world.engine, action="review.list")[-1]
        assert entry["outcome"] == "denied" and entry["details"]["via"]["channel"] == "api"

    def test_keep_until_decision(self, api: TestClient, world: World) -> None:
        queue(world, world.nl)
        body = {"decision": "keep", "reason": "pending claim", "keep_until": "2027-06-01"}
        response = api.post(
            f"/v1/reviews/{world.nl}/decision", json=body, headers=bearer(world.dpo.token)
        )
        assert response.status_code == 200, response.text
        assert response.json()["decision"] == "keep"
        assert response.json()["keep_until"].startswith("2027-06-01T00:00:00")
        entry = audit_entries(world.engine, action="review.decide", subject=world.nl)[-1]
        assert entry["outcome"] == "ok"
        assert entry["details"]["via"]["request_id"] == response.headers["X-Request-ID"]
        assert api.get("/v1/reviews", headers=bearer(world.dpo.token)).json()["items"] == []
        decided = api.get(
            "/v1/reviews", params={"include_decided": "true"}, headers=bearer(world.dpo.token)
        )
        assert len(decided.json()["items"]) == 1

    def test_anonymize_decision_acts(self, api: TestClient, world: World) -> None:
        queue(world, world.nl)
        body = {"decision": "anonymize", "reason": "no claim"}
        response = api.post(
            f"/v1/reviews/{world.nl}/decision", json=body, headers=bearer(world.dpo.token)
        )
        assert response.status_code == 200
        assert audit_entries(world.engine, action="candidate.anonymize", subject=world.nl)

    def test_keep_needs_a_date_and_only_keep_takes_one(self, api: TestClient, world: World) -> None:
        queue(world, world.nl)
        url = f"/v1/reviews/{world.nl}/decision"
        headers = bearer(world.dpo.token)
        assert (
            api.post(url, json={"decision": "keep", "reason": "r"}, headers=headers).status_code
            == 422
        )
        body = {"decision": "delete", "reason": "r", "keep_until": "2027-01-01"}
        assert api.post(url, json=body, headers=headers).status_code == 422

    def test_no_open_review_is_404(self, api: TestClient, world: World) -> None:
        body = {"decision": "delete", "reason": "r"}
        response = api.post(
            f"/v1/reviews/{world.nl}/decision", json=body, headers=bearer(world.dpo.token)
        )
        assert response.status_code == 404

    def test_recruiter_decision_is_denied_and_audited(self, api: TestClient, world: World) -> None:
        queue(world, world.nl)
        body = {"decision": "delete", "reason": "r"}
        response = api.post(
            f"/v1/reviews/{world.nl}/decision", json=body, headers=bearer(world.recruiter.token)
        )
        assert response.status_code == 403
        entry = audit_entries(world.engine, action="review.decide", subject=world.nl)[-1]
        assert entry["outcome"] == "denied" and entry["details"]["via"]["channel"] == "api"
