"""`/v1/evidence` in process: start an export (202), poll it, download the pack, verify it."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retention.audit import log as auditing
from retention.evidence import ExportJob, JobStatus, create_job, job_dir, this_process, verify_path
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

    def test_reversed_period_is_400(self, api: TestClient, world: World) -> None:
        body = {"from": "2026-11-30", "to": "2026-11-01"}
        response = api.post("/v1/evidence/exports", json=body, headers=bearer(world.dpo.token))
        assert response.status_code == 400
        assert "ends before it starts" in response.json()["detail"]

    def test_unknown_job_is_404(self, api: TestClient, world: World) -> None:
        missing = uuid.uuid4()
        headers = bearer(world.dpo.token)
        assert api.get(f"/v1/evidence/exports/{missing}", headers=headers).status_code == 404
        assert api.get(f"/v1/evidence/exports/{missing}/pack", headers=headers).status_code == 404

    @pytest.mark.parametrize("status", ["running", "failed"])
    def test_pack_of_an_unfinished_job_is_409(
        self, api: TestClient, world: World, status: str
    ) -> None:
        error = "no signing key" if status == "failed" else None
        job = _job_record(world, status, error=error)
        response = api.get(f"/v1/evidence/exports/{job.id}/pack", headers=bearer(world.dpo.token))
        assert response.status_code == 409
        assert ("failed" if status == "failed" else "still running") in response.json()["detail"]


def _job_record(world: World, status: str, **fields: Any) -> ExportJob:
    """A job's record as an export of November 2026 by the DPO would leave it."""
    job = ExportJob(
        id=uuid.uuid4(),
        status=JobStatus(status),
        requested_by=world.dpo.principal_id,
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        country=None,
        created_at=world.clock(),
        **fields,
    )
    return create_job(world.installation.config, job)


def _gone_pid() -> int:
    """The id of a process that has ended (and been reaped): nothing runs under it now."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class TestJobsOutliveNoProcess:
    """A server killed mid-export must not leave a job "running" forever, nor packs for ever."""

    def test_a_job_whose_process_is_gone_reads_as_interrupted(
        self, api: TestClient, world: World
    ) -> None:
        host, _ = this_process()
        job = _job_record(world, "running", owner_host=host, owner_pid=_gone_pid())
        polled = api.get(f"/v1/evidence/exports/{job.id}", headers=bearer(world.dpo.token))
        assert polled.status_code == 200
        assert polled.json()["status"] == "failed"
        assert "interrupted" in polled.json()["error"]
        pack = api.get(f"/v1/evidence/exports/{job.id}/pack", headers=bearer(world.dpo.token))
        assert pack.status_code == 409 and "failed" in pack.json()["detail"]

    def test_a_job_of_a_live_process_stays_running_until_it_is_a_day_old(
        self, api: TestClient, world: World
    ) -> None:
        host, pid = this_process()
        job = _job_record(world, "running", owner_host=host, owner_pid=pid)
        url = f"/v1/evidence/exports/{job.id}"
        assert api.get(url, headers=bearer(world.dpo.token)).json()["status"] == "running"
        world.clock.advance(timedelta(hours=25))
        assert api.get(url, headers=bearer(world.dpo.token)).json()["status"] == "failed"

    def test_finished_packs_past_keep_exports_days_go_when_the_next_export_starts(
        self, api: TestClient, world: World
    ) -> None:
        config = world.installation.config
        now = world.clock()
        old = _job_record(world, "done", finished_at=now - timedelta(days=8), pack="p.zip")
        (job_dir(config, old.id) / "p.zip").write_bytes(b"PK")
        recent = _job_record(world, "failed", finished_at=now - timedelta(days=6), error="x")
        running = _job_record(world, "running")
        stranger = config.data_dir / "exports" / "not-a-job"
        stranger.mkdir()
        started = api.post("/v1/evidence/exports", json=PERIOD, headers=bearer(world.dpo.token))
        assert started.status_code == 202
        wait_finished(api, world.dpo.token, started.json()["id"])
        assert not job_dir(config, old.id).exists()
        assert job_dir(config, recent.id).exists() and job_dir(config, running.id).exists()
        assert stranger.exists()
        headers = bearer(world.dpo.token)
        assert api.get(f"/v1/evidence/exports/{old.id}", headers=headers).status_code == 404
