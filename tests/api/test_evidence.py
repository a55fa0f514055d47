"""`/v1/evidence` in process: start an export (202), poll it, download the pack, verify it."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retention.audit import log as auditing
from retention.evidence import verify_path
from retention.install import Installation
from tests.access_support import World
from tests.api.conftest import audit_entries, bearer

PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture(autouse=True)
def signing_key(installation: Installation) -> None:
    auditing.create_signing_key(installation)


def wait_finished(api: TestClient, token: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = api.get(f"/v1/evidence/exports/{job_id}", headers=bearer(token))
        assert job.status_code == 200, job.text
        if job.json()["status"] != "running":
            return dict(job.json())
        time.sleep(0.1)
    raise AssertionError("the export did not finish")


class TestExport:
    def test_start_poll_download_verify(
        self, api: TestClient, world: World, tmp_path: Path
    ) -> None:
        started = api.post("/v1/evidence/exports", json=PERIOD, headers=bearer(world.dpo.token))
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        assert started.json()["status"] == "running"
        assert started.headers["Location"] == f"/v1/evidence/exports/{job_id}"
        job = wait_finished(api, world.dpo.token, job_id)
        assert job["status"] == "done", job
        assert job["fingerprint"] and job["verifier_key"]
        export = audit_entries(world.engine, action="evidence.export")[-1]
        assert export["details"]["via"]["request_id"] == started.headers["X-Request-ID"]

        pack = api.get(f"/v1/evidence/exports/{job_id}/pack", headers=bearer(world.dpo.token))
        assert pack.status_code == 200
        assert pack.headers["content-type"] == "application/zip"
        assert "attachment" in pack.headers["content-disposition"]
        assert hashlib.sha256(pack.content).hexdigest() == job["sha256"]
        digest = base64.b64encode(bytes.fromhex(job["sha256"])).decode()
        assert pack.headers["Repr-Digest"] == f"sha-256=:{digest}:"
        saved = tmp_path / "pack.zip"
        saved.write_bytes(pack.content)
        assert verify_path(saved, job["verifier_key"]).ok

        entry = audit_entries(world.engine, action="evidence.download")[-1]
        assert entry["outcome"] == "ok"
        assert entry["details"]["sha256"] == job["sha256"]
        assert entry["details"]["via"] == {
            "channel": "api",
            "request_id": pack.headers["X-Request-ID"],
        }

    def test_recruiter_is_403_at_once_and_audited(self, api: TestClient, world: World) -> None:
        response = api.post(
            "/v1/evidence/exports", json=PERIOD, headers=bearer(world.recruiter.token)
        )
        assert response.status_code == 403
        entry = audit_entries(world.engine, action="evidence.export")[-1]
        assert entry["outcome"] == "denied" and entry["details"]["via"]["channel"] == "api"

    def test_download_by_someone_without_the_permission_is_denied(
        self, api: TestClient, world: World
    ) -> None:
        job_id = api.post(
            "/v1/evidence/exports", json=PERIOD, headers=bearer(world.dpo.token)
        ).json()["id"]
        wait_finished(api, world.dpo.token, job_id)
        url = f"/v1/evidence/exports/{job_id}/pack"
        assert api.get(url, headers=bearer(world.recruiter.token)).status_code == 403
        entry = audit_entries(world.engine, action="evidence.download")[-1]
        assert entry["outcome"] == "denied"

    def test_reversed_period_is_422(self, api: TestClient, world: World) -> None:
        body = {"from": "2026-11-30", "to": "2026-11-01"}
        response = api.post("/v1/evidence/exports", json=body, headers=bearer(world.dpo.token))
        assert response.status_code == 422

    def test_unknown_job_is_404(self, api: TestClient, world: World) -> None:
        missing = uuid.uuid4()
        headers = bearer(world.dpo.token)
        assert api.get(f"/v1/evidence/exports/{missing}", headers=headers).status_code == 404
        assert api.get(f"/v1/evidence/exports/{missing}/pack", headers=headers).status_code == 404

    @pytest.mark.parametrize("status", ["running", "failed"])
    def test_pack_of_an_unfinished_job_is_409(
        self, api: TestClient, world: World, status: str
    ) -> None:
        from datetime import date

        from retention.evidence import ExportJob, JobStatus, create_job

        job = ExportJob(
            id=uuid.uuid4(),
            status=JobStatus(status),
            requested_by=world.dpo.principal_id,
            start=date(2026, 11, 1),
            end=date(2026, 11, 30),
            country=None,
            created_at=world.clock(),
            error="no signing key" if status == "failed" else None,
        )
        create_job(world.installation.config, job)
        response = api.get(f"/v1/evidence/exports/{job.id}/pack", headers=bearer(world.dpo.token))
        assert response.status_code == 409
        assert ("failed" if status == "failed" else "still running") in response.json()["detail"]
