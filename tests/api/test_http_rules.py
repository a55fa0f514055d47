"""Rules every endpoint shares: body size (413), JSON only (415), CORS off unless configured."""

from __future__ import annotations

from fastapi.testclient import TestClient

from retention.install import Installation
from retention.testing import FixedClock
from tests.access_support import World
from tests.api.conftest import app_with, bearer


def test_body_over_the_limit_is_413(installation: Installation, clock: FixedClock, world: World):
    app = app_with(installation, clock, max_body_bytes=1024)
    with TestClient(app) as client:
        big = {"external_ref": "A" * 100, "email": "x" * 2000}
        response = client.post("/v1/candidates/search", json=big, headers=bearer(world.dpo.token))
        chunked = client.post(
            "/v1/candidates/search",
            content=iter([b'{"external_ref": "', b"A" * 2000, b'"}']),
            headers={**bearer(world.dpo.token), "Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "xxxx" not in response.text
    assert chunked.status_code == 413


def test_a_body_that_is_not_json_is_415(api: TestClient, world: World) -> None:
    response = api.post(
        "/v1/candidates/search",
        content=b"email=a@b.org",
        headers={**bearer(world.dpo.token), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert "a@b.org" not in response.text


def test_malformed_json_is_422_without_echo(api: TestClient, world: World) -> None:
    response = api.post(
        "/v1/candidates/search",
        content=b'{"email": "ana@example.org"',
        headers={**bearer(world.dpo.token), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "ana@example.org" not in response.text


def test_cors_is_off_by_default(api: TestClient) -> None:
    preflight = api.options(
        "/v1/candidates/search",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_for_configured_origins_only(
    installation: Installation, clock: FixedClock, world: World
) -> None:
    app = app_with(installation, clock, cors_origins=("https://backoffice.example.org",))
    with TestClient(app) as client:
        ok = client.options(
            "/v1/candidates/search",
            headers={
                "Origin": "https://backoffice.example.org",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,idempotency-key",
            },
        )
        other = client.get(
            f"/v1/candidates/{world.nl}",
            headers={**bearer(world.dpo.token), "Origin": "https://evil.example"},
        )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://backoffice.example.org"
    assert "access-control-allow-origin" not in other.headers
