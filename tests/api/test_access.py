"""`/v1/access` in process: principals, enrollment, grants with four eyes, the review."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.access_support import World
from tests.api.conftest import audit_entries, bearer


def create(api: TestClient, world: World, name: str = "ivo") -> dict:  # type: ignore[type-arg]
    response = api.post(
        "/v1/access/principals",
        json={"name": name, "kind": "human"},
        headers=bearer(world.admin.token),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def enrolled(api: TestClient, world: World, name: str = "ivo") -> dict:  # type: ignore[type-arg]
    code = create(api, world, name)["enrollment_code"]
    response = api.post("/v1/access/enroll", json={"code": code})
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestPrincipals:
    def test_create_enroll_and_use_the_token(
        self, api: TestClient, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        created = create(api, world)
        assert created["kind"] == "human" and created["enrollment_code"]
        credential = api.post("/v1/access/enroll", json={"code": created["enrollment_code"]})
        assert credential.status_code == 200
        token = credential.json()["token"]
        assert credential.json()["id"] == created["id"]
        assert credential.headers["Cache-Control"] == "no-store"
        # The token works (and has no grant: 403, not 401).
        assert api.get("/v1/holds", headers=bearer(token)).status_code == 403
        # Single use: a second redemption is refused and on the record.
        again = api.post("/v1/access/enroll", json={"code": created["enrollment_code"]})
        assert again.status_code in (400, 403)
        assert token not in again.text
        logged = capsys.readouterr()
        assert token not in logged.out + logged.err
        assert created["enrollment_code"] not in logged.out + logged.err
        listed = api.get("/v1/access/principals", headers=bearer(world.admin.token)).json()
        names = {p["name"] for p in listed["items"]}
        assert {"ivo", "rita"} <= names
        assert all("token" not in p for p in listed["items"])

    def test_recruiter_may_not_create_and_is_on_record(self, api: TestClient, world: World) -> None:
        response = api.post(
            "/v1/access/principals",
            json={"name": "eve", "kind": "human"},
            headers=bearer(world.recruiter.token),
        )
        assert response.status_code == 403
        entry = audit_entries(world.engine, outcome="denied")[-1]
        assert entry["details"]["via"]["channel"] == "api"

    def test_disable_stops_the_token(self, api: TestClient, world: World) -> None:
        ivo = enrolled(api, world)
        response = api.post(
            f"/v1/access/principals/{ivo['id']}/disable",
            json={"reason": "left the company"},
            headers=bearer(world.admin.token),
        )
        assert response.status_code == 200 and response.json()["disabled_at"]
        assert api.get("/v1/holds", headers=bearer(ivo["token"])).status_code == 401

    def test_rotate_revokes_and_issues_a_code(self, api: TestClient, world: World) -> None:
        ivo = enrolled(api, world)
        response = api.post(
            f"/v1/access/principals/{ivo['id']}/rotate-token", headers=bearer(world.admin.token)
        )
        assert response.status_code == 200, response.text
        assert response.json()["enrollment_code"] and response.json()["suspended_grants"] == []
        assert api.get("/v1/holds", headers=bearer(ivo["token"])).status_code == 401

    def test_unknown_principal_is_404(self, api: TestClient, world: World) -> None:
        response = api.post(
            f"/v1/access/principals/{uuid.uuid4()}/disable",
            json={"reason": "r"},
            headers=bearer(world.admin.token),
        )
        assert response.status_code == 404


class TestGrants:
    def test_four_eyes_grant_approve_revoke(self, api: TestClient, world: World) -> None:
        ivo = enrolled(api, world)
        body = {
            "principal_id": ivo["id"],
            "role": "recruiter",
            "countries": "NL",
            "expires": "30d",
            "reason": "NL hiring",
        }
        granted = api.post("/v1/access/grants", json=body, headers=bearer(world.admin.token))
        assert granted.status_code == 201, granted.text
        grant = granted.json()
        assert grant["status"] == "pending"
        # The grantor may not approve its own grant.
        own = api.post(
            f"/v1/access/grants/{grant['id']}/approve", headers=bearer(world.admin.token)
        )
        assert own.status_code == 403
        approved = api.post(
            f"/v1/access/grants/{grant['id']}/approve", headers=bearer(world.dpo.token)
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "active"
        assert (
            api.get(f"/v1/candidates/{world.nl}", headers=bearer(ivo["token"])).status_code == 200
        )
        listed = api.get(
            "/v1/access/grants",
            params={"principal_id": ivo["id"]},
            headers=bearer(world.admin.token),
        ).json()
        assert [g["id"] for g in listed["items"]] == [grant["id"]]
        assert listed["items"][0]["principal"] == "ivo"
        revoked = api.post(
            f"/v1/access/grants/{grant['id']}/revoke",
            json={"reason": "done"},
            headers=bearer(world.admin.token),
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        assert (
            api.get(f"/v1/candidates/{world.nl}", headers=bearer(ivo["token"])).status_code == 403
        )

    def test_bad_role_is_400(self, api: TestClient, world: World) -> None:
        body = {
            "principal_id": str(world.recruiter.principal_id),
            "role": "emperor",
            "countries": "NL",
            "expires": "30d",
            "reason": "r",
        }
        response = api.post("/v1/access/grants", json=body, headers=bearer(world.admin.token))
        assert response.status_code == 400

    def test_check_and_review(self, api: TestClient, world: World) -> None:
        check = api.get(
            "/v1/access/check",
            params={
                "principal_id": str(world.recruiter.principal_id),
                "permission": "candidate:read",
                "country": "DE",
            },
            headers=bearer(world.admin.token),
        )
        assert check.status_code == 200, check.text
        assert check.json()["allowed"] is False
        review = api.get("/v1/access/review", headers=bearer(world.admin.token))
        assert review.status_code == 200, review.text
        assert {p["name"] for p in review.json()["principals"]} >= {"rita"}

    def test_recruiter_may_not_review(self, api: TestClient, world: World) -> None:
        assert (
            api.get("/v1/access/review", headers=bearer(world.recruiter.token)).status_code == 403
        )
