"""Audited reads under concurrency through the app: each answered after its own entry, all in
one chain; and the same reads with group commit off."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from retention.install import Installation
from retention.testing import FixedClock
from tests.access_support import World
from tests.api.conftest import app_with, audit_entries, bearer


def test_concurrent_reads_each_have_their_entry(
    installation: Installation, clock: FixedClock, world: World
) -> None:
    app = app_with(installation, clock, group_commit=True, principal_rate_per_minute=0)
    url = f"/v1/candidates/{world.nl}"
    with TestClient(app) as client, ThreadPoolExecutor(16) as pool:
        responses = list(
            pool.map(lambda _: client.get(url, headers=bearer(world.recruiter.token)), range(64))
        )
        group = app.state.api.installation.audit_group
    assert {r.status_code for r in responses} == {200}
    ids = {r.headers["X-Request-ID"] for r in responses}
    reads = audit_entries(world.engine, action="candidate.read", subject=world.nl)
    assert {e["details"]["via"]["request_id"] for e in reads} >= ids
    assert group is not None and group.stats.callers >= 64
    seqs = [e["seq"] for e in audit_entries(world.engine)]
    assert seqs == list(range(len(seqs)))


def test_group_commit_off_reads_in_one_transaction(
    installation: Installation, clock: FixedClock, world: World
) -> None:
    app = app_with(installation, clock, group_commit=False)
    with TestClient(app) as client:
        response = client.get(f"/v1/candidates/{world.nl}", headers=bearer(world.dpo.token))
        assert app.state.api.installation.audit_group is None
    assert response.status_code == 200
    entry = audit_entries(world.engine, action="candidate.read", subject=world.nl)[-1]
    assert entry["details"]["via"]["request_id"] == response.headers["X-Request-ID"]
