"""`/v1/audit` in process: checkpoints as the CLI prints them, the public key, proofs, entries."""

from __future__ import annotations

import base64
import uuid

import pytest
from fastapi.testclient import TestClient

from audit_log import ConsistencyProof, InclusionProof, Verifier, open_note
from retention.audit import log as auditing
from retention.install import Installation
from tests.access_support import World
from tests.api.conftest import audit_entries, bearer


@pytest.fixture(autouse=True)
def signing_key(installation: Installation) -> None:
    auditing.create_signing_key(installation)


class TestCheckpoints:
    def test_none_signed_yet_is_404(self, api: TestClient, world: World) -> None:
        response = api.get("/v1/audit/checkpoint", headers=bearer(world.dpo.token))
        assert response.status_code == 404
        assert "gdpr audit checkpoint" in response.json()["detail"]

    def test_sign_then_read_the_same_note(self, api: TestClient, world: World) -> None:
        signed = api.post("/v1/audit/checkpoints", headers=bearer(world.admin.token))
        assert signed.status_code == 201
        assert signed.headers["content-type"].startswith("text/plain")
        latest = api.get("/v1/audit/checkpoint", headers=bearer(world.dpo.token))
        assert latest.status_code == 200 and latest.text == signed.text
        assert latest.text == auditing.latest_checkpoint(world.installation)
        key = api.get("/v1/audit/verifier-key")  # public: no token
        assert key.status_code == 200
        verifier = Verifier.from_string(key.text.strip())
        lines = latest.text.splitlines()
        assert lines[0] == world.installation.config.log_origin
        open_note(latest.text, verifier)

    def test_recruiter_may_not_read_the_checkpoint(self, api: TestClient, world: World) -> None:
        response = api.get("/v1/audit/checkpoint", headers=bearer(world.recruiter.token))
        assert response.status_code == 403
        entry = audit_entries(world.engine, action="audit.checkpoint.read")[-1]
        assert entry["outcome"] == "denied" and entry["details"]["via"]["channel"] == "api"


class TestProofs:
    def test_inclusion_and_consistency_verify(self, api: TestClient, world: World) -> None:
        headers = bearer(world.dpo.token)
        response = api.get("/v1/audit/proofs/inclusion", params={"seq": 1}, headers=headers)
        assert response.status_code == 200, response.text
        proof = InclusionProof.from_json(response.json())
        proof.verify()
        size = proof.tree_size
        response = api.get(
            "/v1/audit/proofs/consistency", params={"from": 2, "to": size}, headers=headers
        )
        assert response.status_code == 200, response.text
        consistency = ConsistencyProof.from_json(response.json())
        consistency.verify()
        assert base64.b64decode(response.json()["root2"]) == proof.root

    def test_beyond_the_log_is_an_error_not_a_500(self, api: TestClient, world: World) -> None:
        headers = bearer(world.dpo.token)
        response = api.get("/v1/audit/proofs/inclusion", params={"seq": 10**9}, headers=headers)
        assert response.status_code in (400, 409), response.text
        response = api.get("/v1/audit/proofs/consistency", params={"from": 10**9}, headers=headers)
        assert response.status_code in (400, 409), response.text


class TestEntries:
    def test_pages_by_cursor_in_seq_order(self, api: TestClient, world: World) -> None:
        headers = bearer(world.dpo.token)
        seen: list[int] = []
        params: dict[str, object] = {"limit": 3}
        for _ in range(100):
            page = api.get("/v1/audit/entries", params=params, headers=headers)
            assert page.status_code == 200, page.text
            seen += [e["seq"] for e in page.json()["items"]]
            if page.json()["next"] is None:
                break
            params = {"limit": 3, "cursor": page.json()["next"]}
        assert seen == sorted(seen) and len(seen) == len(set(seen)) >= 6

    def test_since_and_subject(self, api: TestClient, world: World) -> None:
        headers = bearer(world.dpo.token)
        api.get(f"/v1/candidates/{world.nl}", headers=headers)
        page = api.get(
            "/v1/audit/entries", params={"subject": str(world.nl), "since": 1}, headers=headers
        ).json()
        assert page["items"] and {e["subject"] for e in page["items"]} == {str(world.nl)}
        assert page["items"][-1]["action"] == "candidate.read"
        assert page["items"][-1]["details"]["via"]["channel"] == "api"
        none = api.get(
            "/v1/audit/entries", params={"subject": str(uuid.uuid4())}, headers=headers
        ).json()
        assert none == {"items": [], "next": None}

    def test_recruiter_is_403(self, api: TestClient, world: World) -> None:
        assert (
            api.get("/v1/audit/entries", headers=bearer(world.recruiter.token)).status_code == 403
        )

    def test_bad_cursor_is_400(self, api: TestClient, world: World) -> None:
        response = api.get(
            "/v1/audit/entries", params={"cursor": "InRleHQi"}, headers=bearer(world.dpo.token)
        )
        assert response.status_code == 400
