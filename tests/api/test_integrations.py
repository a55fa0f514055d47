"""POST /v1/integrations/{name}/events through the real app: the signature over the raw body is
the credential (no bearer token), refusals are RFC 9457 problems, replays are acknowledged."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from structlog.testing import capture_logs

from retention.api import create_app
from retention.api.inbound import InboundEvents
from retention.api.routes import integrations
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


class TestPastTheRouter:
    """The route is answered before FastAPI's routing (`retention.api.inbound`), with every
    layer around it as for any route."""

    URL = "/v1/integrations/greenhouse/events"

    def test_request_context_metrics_and_log_line_as_for_any_route(
        self, sources: Installation, clock: FixedClock
    ) -> None:
        body = greenhouse_body("reject_candidate")
        app = create_app(sources, clock=clock)
        with TestClient(app, client=("127.0.0.1", 40000)) as c, capture_logs() as logs:
            r = c.post(self.URL, content=body, headers=signed(body, "ctx-1"))
            bad = c.post(self.URL, content=body, headers=signed(b"other", "ctx-2"))
            text = c.get("/metrics").text
        assert r.status_code == 200 and r.json()["effect"] == "created"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"
        request_id = r.headers["X-Request-ID"]
        (entry,) = audit_entries(sources.engine, action="integration.event")
        assert entry["details"]["via"] == {"channel": "api", "request_id": request_id}
        assert bad.status_code == 401
        assert bad.json()["request_id"] == bad.headers["X-Request-ID"]
        route = 'route="/v1/integrations/{name}/events"'
        assert f'gdpr_api_requests_total{{method="POST",{route},status="200"}} 1.0' in text
        assert f'gdpr_api_requests_total{{method="POST",{route},status="401"}} 1.0' in text
        lines = [e for e in logs if e["event"] == "request" and e["method"] == "POST"]
        assert [(e["route"], e["status"]) for e in lines] == [
            ("/v1/integrations/{name}/events", 200),
            ("/v1/integrations/{name}/events", 401),
        ]
        assert lines[0]["request_id"] == request_id
        assert "Hurley" not in repr(logs)

    def test_other_methods_and_paths_go_on_to_fastapi(self, client: TestClient) -> None:
        r = client.get(self.URL)
        assert r.status_code == 405 and r.headers["Allow"] == "POST"
        assert r.headers["content-type"].startswith("application/problem+json")
        body = greenhouse_body("ping")
        for path in ("/v1/integrations/a/b/events", "/v1/integrations//events"):
            r = client.post(path, content=body, headers=signed(body))
            assert r.status_code == 404, path
            assert r.headers["content-type"].startswith("application/problem+json")

    def test_body_rules_and_idempotency_keys_still_apply(self, client: TestClient) -> None:
        body = greenhouse_body("ping")
        r = client.post(
            self.URL, content=body, headers={**signed(body), "Content-Type": "text/plain"}
        )
        assert r.status_code == 415
        r = client.post(
            self.URL, content=body, headers={**signed(body), "Idempotency-Key": "k" * 256}
        )
        assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"]
        declared = {**signed(body), "Content-Length": str(2 * 1024 * 1024)}
        assert client.post(self.URL, content=body, headers=declared).status_code == 413

    def test_an_engine_error_is_the_apps_problem(self, client: TestClient) -> None:
        """An exception from the endpoint is answered by the app's own handler for it: a closed
        group commit (InstallationError) is 503, as anywhere in the API."""
        group = client.app.state.api.installation.audit_group  # type: ignore[attr-defined]
        group.close()
        body = greenhouse_body("reject_candidate")
        r = client.post(self.URL, content=body, headers=signed(body, "closed-1"))
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["request_id"] == r.headers["X-Request-ID"]

    def test_only_posts_to_the_route_are_answered_past_the_router(self) -> None:
        answered: list[str] = []
        passed: list[tuple[str, str]] = []

        async def fastapi(scope: Scope, receive: Receive, send: Send) -> None:
            passed.append((scope["method"], scope["path"]))

        async def endpoint(name: str, request: Request) -> Response:
            answered.append(name)
            return Response(b"{}", media_type="application/json")

        (route,) = [r for r in integrations.router.routes if isinstance(r, APIRoute)]
        layer = InboundEvents(fastapi, route, "/v1", endpoint)
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def call(method: str, path: str) -> Scope:
            scope: Scope = {"type": "http", "method": method, "path": path, "headers": []}
            await layer(scope, receive, send)
            return scope

        scope = asyncio.run(call("POST", "/v1/integrations/green-house/events"))
        assert answered == ["green-house"] and scope["route"] is route
        assert scope["path_params"] == {"name": "green-house"}
        for method, path in [
            ("GET", "/v1/integrations/greenhouse/events"),
            ("POST", "/v1/integrations/a/b/events"),
            ("POST", "/v1/integrations//events"),
            ("POST", "/v1/integrations/greenhouse/events/"),
            ("POST", "/v1/integrations/greenhouse"),
            ("POST", "/v2/integrations/greenhouse/events"),
        ]:
            asyncio.run(call(method, path))
        assert answered == ["green-house"] and len(passed) == 6
        assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200]
