"""Idempotency-Key on POST: a replay is the first response, another body with the key is 422."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from retention.store import IdempotentRequest, idempotency
from retention.testing import FixedClock
from tests.access_support import World
from tests.api.conftest import audit_entries, bearer


def search(api: TestClient, world: World, key: str | None, ref: str = "ATS-1", token=None):
    headers = bearer(token or world.recruiter.token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.post("/v1/candidates/search", json={"external_ref": ref}, headers=headers)


class TestReplay:
    def test_replay_returns_the_first_response_and_is_audited(
        self, api: TestClient, world: World
    ) -> None:
        first = search(api, world, "k-1")
        finds = len(audit_entries(world.engine, action="candidate.find"))
        again = search(api, world, "k-1")
        assert again.status_code == first.status_code == 200
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        replay = audit_entries(world.engine, action="api.replay")[-1]
        assert replay["actor"] == str(world.recruiter.principal_id)
        assert replay["details"]["first_request_id"] == first.headers["X-Request-ID"]
        assert replay["details"]["via"]["request_id"] == again.headers["X-Request-ID"]
        assert len(audit_entries(world.engine, action="candidate.find")) == finds

    def test_same_key_other_body_is_422(self, api: TestClient, world: World) -> None:
        assert search(api, world, "k-2").status_code == 200
        other = search(api, world, "k-2", ref="ATS-2")
        assert other.status_code == 422
        assert other.json()["type"].endswith(":idempotency-key-reused")

    def test_keys_belong_to_their_principal(self, api: TestClient, world: World) -> None:
        assert search(api, world, "k-3").status_code == 200
        dpo = search(api, world, "k-3", ref="ATS-9", token=world.dpo.token)
        assert dpo.status_code == 200
        assert "Idempotent-Replayed" not in dpo.headers

    def test_the_stored_response_is_sealed(self, api: TestClient, world: World) -> None:
        with world.engine.connect() as conn:
            before = conn.execute(select(IdempotentRequest)).all()
        response = api.post(
            "/v1/candidates/search",
            json={"external_ref": "ATS-SEALED"},
            headers={**bearer(world.dpo.token), "Idempotency-Key": "plain-key-4"},
        )
        assert response.status_code == 200
        with world.engine.connect() as conn:
            rows = conn.execute(select(IdempotentRequest)).all()
        (row,) = [r for r in rows if r not in before]
        assert row.status == 200
        assert b"items" not in row.sealed and b"plain-key-4" not in row.sealed
        assert "plain-key-4" not in row.key_hash

    def test_failed_authentication_claims_nothing(self, api: TestClient, world: World) -> None:
        bad = api.post(
            "/v1/candidates/search",
            json={"external_ref": "ATS-1"},
            headers={**bearer("gdpr_" + "C" * 43), "Idempotency-Key": "k-5"},
        )
        assert bad.status_code == 401
        assert search(api, world, "k-5").status_code == 200

    def test_malformed_key_is_400(self, api: TestClient, world: World) -> None:
        response = search(api, world, "bad key with spaces")
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"

    def test_without_a_key_nothing_is_stored(self, api: TestClient, world: World) -> None:
        with world.engine.connect() as conn:
            before = len(conn.execute(select(IdempotentRequest)).all())
        assert search(api, world, None).status_code == 200
        with world.engine.connect() as conn:
            assert len(conn.execute(select(IdempotentRequest)).all()) == before


class TestStore:
    def test_a_running_claim_is_in_progress_and_expiry_frees_the_key(
        self, world: World, clock: FixedClock
    ) -> None:
        engine, who, at = world.engine, world.dpo.principal_id, clock()
        args = ("h" * 64, who, "/v1/x", "f" * 64, str(uuid.uuid4()))
        assert idempotency.claim(engine, *args, at).claim is idempotency.Claim.CLAIMED
        assert idempotency.claim(engine, *args, at).claim is idempotency.Claim.IN_PROGRESS
        later = at + idempotency.IDEMPOTENCY_TTL + timedelta(seconds=1)
        assert idempotency.claim(engine, *args, later).claim is idempotency.Claim.CLAIMED

    def test_release_lets_a_retry_run(self, world: World, clock: FixedClock) -> None:
        engine, who, at = world.engine, world.dpo.principal_id, clock()
        args = ("r" * 64, who, "/v1/x", "f" * 64, str(uuid.uuid4()))
        idempotency.claim(engine, *args, at)
        idempotency.release(engine, "r" * 64)
        assert idempotency.claim(engine, *args, at).claim is idempotency.Claim.CLAIMED
