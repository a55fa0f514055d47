"""POST /v1/integrations/{name}/events through the real app: the signature over the raw body is
the credential (no bearer token), refusals are RFC 9457 problems, replays are acknowledged."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from retention.api import create_app
from retention.install import Installation
from retention.integration import greenhouse_signature
from retention.testing import FixedClock
from tests.api.conftest import audit_entries
from tests.integration_support import (
    GREENHOUSE_SECRET,
    WHSEC,
    greenhouse_body,
    sources,
    standard_headers,
)

__all__ = ["sources"]  # fixture


@pytest.fixture
def client(sources: Installation, clock: FixedClock) -> Iterator[TestClient]:
    app = create_app(sources, clock=clock)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


def signed(body: bytes, event_id: str = "evt-1") -> dict[str, str]:
    return {
        "Signature": greenhouse_signature(GREENHOUSE_SECRET, body),
        "Greenhouse-Event-ID": event_id,
        "Content-Type": "application/json",
    }


class TestGreenhouseEvents:
    def test_a_signed_event_is_applied_and_audited_as_from_the_source(
        self, client: TestClient, sources: Installation
    ) -> None:
        body = greenhouse_body("reject_candidate")
        r = client.post("/v1/integrations/greenhouse/events", content=body, headers=signed(body))
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["status"], got["effect"]) == ("accepted", "created")
        (entry,) = audit_entries(sources.engine, action="integration.event")
        assert entry["actor"] == "integration:greenhouse"
        assert entry["subject"] == got["subject"]
        assert entry["details"]["via"]["channel"] == "api"

    def test_the_exact_bytes_are_verified(self, client: TestClient) -> None:
        """Unicode escapes as sent (\\u003c) are signed as they are: nothing is re-serialized."""
        data = json.loads(greenhouse_body("update_candidate"))
        data["payload"]["candidate"]["title"] = "<b>Lead</b>"
        body = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").encode()
        assert b"\\u003c" in body
        r = client.post("/v1/integrations/greenhouse/events", content=body, headers=signed(body))
        assert r.status_code == 200 and r.json()["effect"] == "created"

    def test_a_replay_is_acknowledged_without_acting(self, client: TestClient) -> None:
        body = greenhouse_body("reject_candidate")
        url = "/v1/integrations/greenhouse/events"
        assert (
            client.post(url, content=body, headers=signed(body, "e-7")).json()["status"]
            == "accepted"
        )
        again = client.post(url, content=body, headers=signed(body, "e-7"))
        assert again.status_code == 200 and again.json() == {
            "status": "duplicate",
            "effect": None,
            "subject": None,
        }

    def test_a_bad_signature_is_a_401_problem_without_the_payload(
        self, client: TestClient, sources: Installation
    ) -> None:
        body = greenhouse_body("reject_candidate")
        headers = signed(body)
        headers["Signature"] = "sha256 " + "0" * 64
        r = client.post("/v1/integrations/greenhouse/events", content=body, headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "Hurley" not in r.text and "signature mismatch" in r.text
        (entry,) = audit_entries(sources.engine, action="integration.refused")
        assert entry["outcome"] == "denied"

    def test_an_unknown_source_is_401_and_a_malformed_event_400(self, client: TestClient) -> None:
        body = b'{"action": "update_candidate", "payload": {"candidate": []}}'
        r = client.post("/v1/integrations/workday/events", content=body, headers=signed(body))
        assert r.status_code == 401
        r = client.post("/v1/integrations/greenhouse/events", content=body, headers=signed(body))
        assert r.status_code == 400 and "candidate must be an object" in r.text

    def test_no_bearer_token_is_needed_nor_used(self, client: TestClient) -> None:
        body = greenhouse_body("ping")
        headers = {**signed(body), "Authorization": "Bearer not-a-token"}
        r = client.post("/v1/integrations/greenhouse/events", content=body, headers=headers)
        assert r.status_code == 200 and r.json()["effect"] == "ignored"

    def test_concurrent_events_each_answered_with_their_own_committed_effect(
        self, client: TestClient, sources: Installation
    ) -> None:
        """Requests awaiting the group commit's writer together: each is answered with its
        own subject, its entry carries its own request id, and every effect is committed."""
        url = "/v1/integrations/greenhouse/events"

        def post(n: int) -> tuple[str, str]:
            body = greenhouse_body(
                "reject_candidate",
                payload__application__id=70_000 + n,
                payload__application__candidate__id=80_000 + n,
            )
            r = client.post(url, content=body, headers=signed(body, f"c-{n}"))
            assert r.status_code == 200 and r.json()["effect"] == "created", r.text
            return r.json()["subject"], r.headers["X-Request-ID"]

        with ThreadPoolExecutor(8) as pool:
            answers = dict(pool.map(post, range(24)))
        assert len(answers) == 24
        entries = audit_entries(sources.engine, action="integration.event")
        assert {e["subject"]: e["details"]["via"]["request_id"] for e in entries} == answers

    def test_no_statement_runs_on_the_event_loop(
        self, client: TestClient, sources: Installation
    ) -> None:
        """The route is an `async def`: every statement of an applied event, a replay and a
        refusal runs in the group commit's writer thread."""
        threads: list[str] = []

        def seen(*_: object) -> None:
            threads.append(threading.current_thread().name)

        event.listen(sources.engine, "before_cursor_execute", seen)
        try:
            body = greenhouse_body("reject_candidate")
            url = "/v1/integrations/greenhouse/events"
            assert client.post(url, content=body, headers=signed(body, "t-1")).status_code == 200
            assert client.post(url, content=body, headers=signed(body, "t-1")).status_code == 200
            bad = {**signed(body, "t-2"), "Signature": "sha256 " + "0" * 64}
            assert client.post(url, content=body, headers=bad).status_code == 401
        finally:
            event.remove(sources.engine, "before_cursor_execute", seen)
        assert threads and set(threads) == {"group-commit-writer"}

    def test_a_body_over_the_limit_is_413(self, client: TestClient) -> None:
        body = b"{" + b" " * (1024 * 1024 + 1) + b"}"
        r = client.post("/v1/integrations/greenhouse/events", content=body, headers=signed(body))
        assert r.status_code == 413


class TestStandardWebhooks:
    def test_a_signed_generic_event(self, client: TestClient, clock: FixedClock) -> None:
        body = json.dumps(
            {
                "type": "candidate.updated",
                "timestamp": "2026-11-22T11:59:00Z",
                "data": {"candidate": {"id": f"c-{uuid.uuid4().hex[:6]}", "firstName": "Ioana"}},
            }
        ).encode()
        headers = standard_headers(body, [WHSEC], clock())
        r = client.post("/v1/integrations/lever/events", content=body, headers=headers)
        assert r.status_code == 200 and r.json()["effect"] == "created"
        stale = standard_headers(body, [WHSEC], clock().replace(hour=11))
        r = client.post("/v1/integrations/lever/events", content=body, headers=stale)
        assert r.status_code == 401 and "timestamp outside tolerance" in r.text
