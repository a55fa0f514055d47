"""`/v1/requests` in process: the register over HTTP, each change through its operation."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
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


def gauge(text: str, name: str, kind: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith(f'{name}{{type="{kind}"}} '))
    return float(line.rsplit(" ", 1)[1])


class TestDueMetrics:
    def test_scrape_counts_requests_due_soon_then_overdue(self, rw: RequestWorld) -> None:
        """/metrics counts open requests by type as due within 7 days, then, once the clock
        passes the deadline, as overdue; a closed request leaves both."""
        clock = rw.world.clock
        app = create_app(rw.installation, clock=clock)
        with TestClient(app, client=("127.0.0.1", 40000)) as c:
            first = c.get("/metrics").text
            assert gauge(first, "gdpr_requests_overdue", "access") == 0.0
            assert gauge(first, "gdpr_requests_due_soon", "erasure") == 0.0
            access = opened(c, rw)  # due 2026-12-21: a month away
            opened(c, rw, "erasure", received_at="2026-10-27T10:00:00Z")  # due 2026-11-27
            text = c.get("/metrics").text
            assert gauge(text, "gdpr_requests_due_soon", "erasure") == 1.0
            assert gauge(text, "gdpr_requests_due_soon", "access") == 0.0
            assert gauge(text, "gdpr_requests_overdue", "erasure") == 0.0
            clock.advance(timedelta(days=6))  # 2026-11-28: the erasure is late
            text = c.get("/metrics").text
            assert gauge(text, "gdpr_requests_overdue", "erasure") == 1.0
            assert gauge(text, "gdpr_requests_due_soon", "erasure") == 0.0
            clock.advance(timedelta(days=17))  # 2026-12-15: the access is due within 7 days
            text = c.get("/metrics").text
            assert gauge(text, "gdpr_requests_due_soon", "access") == 1.0
            response = c.post(f"/v1/requests/{access['id']}/withdraw", json={}, headers=dpo(rw))
            assert response.status_code == 200, response.text
            text = c.get("/metrics").text
            assert gauge(text, "gdpr_requests_due_soon", "access") == 0.0
            assert gauge(text, "gdpr_requests_overdue", "erasure") == 1.0


class TestKeepClosedThroughTheApiSweep:
    def test_a_sweep_started_over_http_expires_old_closed_requests(
        self, client: TestClient, rw: RequestWorld
    ) -> None:
        """POST /v1/sweep/runs ends, like the CLI's sweep, in `[requests] keep_closed`: a
        request closed over three years ago is deleted, with its `request.expire` entry."""
        old = opened(client, rw, received_at="2023-01-10T09:00:00Z", at="2023-01-10T09:00:00Z")
        response = client.post(
            f"/v1/requests/{old['id']}/withdraw", json={"at": "2023-01-11T00:00:00Z"},
            headers=dpo(rw),
        )  # fmt: skip
        assert response.status_code == 200, response.text
        kept = opened(client, rw)
        started = client.post("/v1/sweep/runs", json={}, headers=dpo(rw))
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 60
        while not audit_entries(rw.world.engine, action="request.expire"):
            assert time.monotonic() < deadline, "the register's retention never ran"
            time.sleep(0.05)
        (entry,) = audit_entries(rw.world.engine, action="request.expire")
        assert entry["details"]["request"] == old["id"]
        assert entry["details"]["via"]["request_id"] == started.headers["X-Request-ID"]
        assert client.get(f"/v1/requests/{old['id']}", headers=dpo(rw)).status_code == 404
        assert client.get(f"/v1/requests/{kept['id']}", headers=dpo(rw)).status_code == 200
