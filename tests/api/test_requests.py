"""`/v1/requests` in process: the register over HTTP, each change through its operation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from retention.api import create_app
from retention.install import Installation
from retention.testing import FixedClock
from tests.api.conftest import audit_entries, bearer
from tests.requests_support import RequestWorld, build_request_world

RECEIVED = "2026-11-20T10:00:00Z"


@pytest.fixture
def rw(installation: Installation, clock: FixedClock) -> RequestWorld:
    return build_request_world(installation, clock)


@pytest.fixture
def client(rw: RequestWorld) -> Iterator[TestClient]:
    app = create_app(rw.installation, clock=rw.world.clock)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


def dpo(rw: RequestWorld) -> dict[str, str]:
    return bearer(rw.world.dpo.token)


def opened(client: TestClient, rw: RequestWorld, kind: str = "access", **body: object) -> dict:
    payload = {"type": kind, "received_at": RECEIVED, "subject": str(rw.world.nl), **body}
    response = client.post("/v1/requests", json=payload, headers=dpo(rw))
    assert response.status_code == 201, response.text
    return response.json()


class TestRequests:
    def test_open_show_list(self, client: TestClient, rw: RequestWorld) -> None:
        """201 with the deadline; the entry carries the API channel; listed and shown."""
        body = opened(client, rw)
        assert (body["type"], body["status"], body["due_on"]) == ("access", "open", "2026-12-21")
        entry = audit_entries(rw.world.engine, action="request.open")[-1]
        assert entry["details"]["via"]["channel"] == "api"
        listed = client.get("/v1/requests", headers=dpo(rw)).json()
        assert [r["id"] for r in listed["items"]] == [body["id"]]
        shown = client.get(f"/v1/requests/{body['id']}", headers=dpo(rw)).json()
        assert [e["kind"] for e in shown["events"]] == ["open"]

    def test_open_by_email_in_the_body(self, client: TestClient, rw: RequestWorld) -> None:
        from sqlalchemy import select

        from retention.store import Candidate

        with rw.world.engine.connect() as conn:
            email = conn.execute(
                select(Candidate.email).where(Candidate.id == rw.world.nl)
            ).scalar()
        payload = {"type": "erasure", "received_at": RECEIVED, "email": email}
        response = client.post("/v1/requests", json=payload, headers=dpo(rw))
        assert response.status_code == 201 and response.json()["subject"] == str(rw.world.nl)

    def test_subject_and_email_is_422_without_echo(
        self, client: TestClient, rw: RequestWorld
    ) -> None:
        payload = {"type": "access", "received_at": RECEIVED, "subject": str(rw.world.nl),
                   "email": "secret.person@example.org"}  # fmt: skip
        response = client.post("/v1/requests", json=payload, headers=dpo(rw))
        assert response.status_code == 422
        assert "secret.person" not in response.text

    def test_state_changes_and_rules(self, client: TestClient, rw: RequestWorld) -> None:
        rid = opened(client, rw)["id"]
        ok = client.post(f"/v1/requests/{rid}/extend", json={"reason": "complex"}, headers=dpo(rw))
        assert ok.status_code == 200 and ok.json()["due_on"] == "2027-02-22"
        again = client.post(f"/v1/requests/{rid}/extend", json={"reason": "x"}, headers=dpo(rw))
        assert again.status_code == 400 and "extended already" in again.json()["detail"]
        future = client.post(
            f"/v1/requests/{rid}/withdraw", json={"at": "2030-01-01T00:00:00Z"}, headers=dpo(rw)
        )
        assert future.status_code == 400 and "future" in future.json()["detail"]
        done = client.post(
            f"/v1/requests/{rid}/refuse", json={"ground": "Art. 12(5)"}, headers=dpo(rw)
        )
        assert done.json()["status"] == "refused"

    def test_access_fulfilment_writes_the_package(
        self, client: TestClient, rw: RequestWorld
    ) -> None:
        rid = opened(client, rw)["id"]
        client.post(f"/v1/requests/{rid}/verify", json={"method": "reply"}, headers=dpo(rw))
        response = client.post(f"/v1/requests/{rid}/fulfil", json={}, headers=dpo(rw))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["request"]["status"] == "fulfilled"
        assert (Path(body["package"]) / "package.json").is_file()

    def test_erasure_four_eyes_and_hold_conflict(
        self, client: TestClient, rw: RequestWorld
    ) -> None:
        rid = opened(client, rw, "erasure")["id"]
        client.post(f"/v1/requests/{rid}/verify", json={"method": "reply"}, headers=dpo(rw))
        same = client.post(f"/v1/requests/{rid}/approve", json={}, headers=dpo(rw))
        assert same.status_code == 400
        other = client.post(f"/v1/requests/{rid}/approve", json={}, headers=bearer(rw.dpo2_token))
        assert other.status_code == 200
        from retention.store import LegalHold, transaction

        with transaction(rw.world.engine) as conn:
            conn.execute(LegalHold.__table__.insert().values(
                id=uuid.uuid4(), subject_id=rw.world.nl, case_ref="C-1", reason="claim",
                placed_by="dpo", placed_at=rw.world.clock(),
            ))  # fmt: skip
        held = client.post(f"/v1/requests/{rid}/fulfil", json={}, headers=dpo(rw))
        assert held.status_code == 409 and "17(3)(e)" in held.json()["detail"]

    def test_recruiter_is_403(self, client: TestClient, rw: RequestWorld) -> None:
        payload = {"type": "access", "received_at": RECEIVED, "subject": str(rw.world.nl)}
        response = client.post(
            "/v1/requests", json=payload, headers=bearer(rw.world.recruiter.token)
        )
        assert response.status_code == 403

    def test_due(self, client: TestClient, rw: RequestWorld) -> None:
        opened(client, rw, received_at="2026-10-01T09:00:00Z")
        due = client.get("/v1/requests/due", headers=dpo(rw)).json()
        assert len(due["overdue"]) == 1 and due["due_within_7_days"] == []

    def test_unknown_request_is_404(self, client: TestClient, rw: RequestWorld) -> None:
        response = client.get(f"/v1/requests/{uuid.uuid4()}", headers=dpo(rw))
        assert response.status_code == 404
