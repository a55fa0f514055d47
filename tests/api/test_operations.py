"""/healthz, /readyz and /metrics: probes without a token, metrics for loopback or its token."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from retention.api import create_app
from retention.audit.log import create_signing_key
from retention.install import Installation
from tests.access_support import World
from tests.api.conftest import bearer


def with_key(installation: Installation) -> Installation:
    create_signing_key(installation)
    return installation


class TestProbes:
    def test_healthz(self, api: TestClient) -> None:
        response = api.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})

    def test_readyz_with_key_and_schema(self, installation: Installation, world: World) -> None:
        with TestClient(create_app(with_key(installation))) as client:
            response = client.get("/readyz")
        assert (response.status_code, response.json()) == (200, {"status": "ready"})

    def test_readyz_without_signing_key_is_503_naming_it(self, api: TestClient) -> None:
        response = api.get("/readyz")
        assert response.status_code == 503
        assert "cannot read signing key" in response.json()["detail"]
        assert response.headers["Retry-After"]


def loopback(app: FastAPI) -> TestClient:
    return TestClient(app, client=("127.0.0.1", 40000))


class TestMetrics:
    def test_loopback_gets_request_counts_by_route_template(
        self, app: FastAPI, world: World
    ) -> None:
        with loopback(app) as client:
            client.get(f"/v1/candidates/{world.nl}", headers=bearer(world.recruiter.token))
            client.get(f"/v1/candidates/{world.de}", headers=bearer(world.recruiter.token))
            text = client.get("/metrics").text
        route = 'route="/v1/candidates/{candidate_id}"'
        assert f'gdpr_api_requests_total{{method="GET",{route},status="200"}} 1.0' in text
        assert f'gdpr_api_requests_total{{method="GET",{route},status="403"}} 1.0' in text
        assert "gdpr_api_request_duration_seconds_bucket" in text
        assert str(world.nl) not in text and str(world.de) not in text
        assert "gdpr_audit_log_entries " in text
        assert "gdpr_review_backlog 0.0" in text

    def test_other_hosts_are_refused_without_the_token(self, api: TestClient) -> None:
        response = api.get("/metrics")
        assert response.status_code == 403

    def test_other_hosts_with_the_metrics_token(
        self, installation: Installation, world: World, tmp_path: Path
    ) -> None:
        token_file = tmp_path / "metrics.token"
        token_file.write_text("m-secret-1234\n")
        os.chmod(token_file, 0o600)
        api = dataclasses.replace(installation.config.api, metrics_token_path=token_file)
        config = dataclasses.replace(installation.config, api=api)
        app = create_app(Installation(config, installation.engine))
        with TestClient(app) as client:
            assert client.get("/metrics", headers=bearer("m-secret-1234")).status_code == 200
            assert client.get("/metrics", headers=bearer("m-secret-12345")).status_code == 403
        token_file.chmod(0o644)  # readable by others: no longer a secret, so refused
        with TestClient(app) as client:
            assert client.get("/metrics", headers=bearer("m-secret-1234")).status_code == 403
