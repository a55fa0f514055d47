"""`/v1/holds` in process: place, release, list, as `gdpr hold` does, audited via the API."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.access_support import World
from tests.api.conftest import audit_entries, bearer


def place(api: TestClient, world: World, subject: uuid.UUID, token: str, case: str = "C-1"):  # type: ignore[no-untyped-def]
    body = {"subject_id": str(subject), "case_ref": case, "reason": "litigation hold"}
    return api.post("/v1/holds", json=body, headers=bearer(token))


class TestPlace:
    def test_dpo_places_a_hold_audited_via_api(self, api: TestClient, world: World) -> None:
        response = place(api, world, world.nl, world.dpo.token)
        assert response.status_code == 201
        hold = response.json()
        assert hold["subject_id"] == str(world.nl) and hold["active"] is True
        assert hold["case_ref"] == "C-1" and hold["placed_by"] == str(world.dpo.principal_id)
        entry = audit_entries(world.engine, action="hold.place", subject=world.nl)[-1]
        assert entry["outcome"] == "ok"
        assert entry["details"]["via"] == {
            "channel": "api",
            "request_id": response.headers["X-Request-ID"],
        }

    def test_recruiter_is_403_and_audited_denied(self, api: TestClient, world: World) -> None:
        response = place(api, world, world.nl, world.recruiter.token)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        entry = audit_entries(world.engine, action="hold.place", subject=world.nl)[-1]
        assert entry["outcome"] == "denied"
        assert entry["details"]["via"]["channel"] == "api"

    def test_same_case_twice_is_400(self, api: TestClient, world: World) -> None:
        assert place(api, world, world.nl, world.dpo.token).status_code == 201
        again = place(api, world, world.nl, world.dpo.token)
        assert again.status_code == 400
        assert "already has an active hold" in again.json()["detail"]

    def test_unknown_subject_is_404(self, api: TestClient, world: World) -> None:
        assert place(api, world, uuid.uuid4(), world.dpo.token).status_code == 404

    def test_reason_with_an_email_is_400_not_echoed(self, api: TestClient, world: World) -> None:
        body = {"subject_id": str(world.nl), "case_ref": "C-9", "reason": "per ana@example.org"}
        response = api.post("/v1/holds", json=body, headers=bearer(world.dpo.token))
        assert response.status_code == 400
        assert "ana@example.org" not in response.text

    def test_unknown_field_is_422(self, api: TestClient, world: World) -> None:
        body = {"subject_id": str(world.nl), "case_ref": "C", "reason": "r", "until": "x"}
        assert api.post("/v1/holds", json=body, headers=bearer(world.dpo.token)).status_code == 422


class TestReleaseAndList:
    def test_release_then_list(self, api: TestClient, world: World) -> None:
        hold_id = place(api, world, world.nl, world.dpo.token).json()["id"]
        listed = api.get("/v1/holds", headers=bearer(world.dpo.token)).json()
        assert [h["id"] for h in listed["items"]] == [hold_id] and listed["next"] is None
        response = api.post(
            f"/v1/holds/{hold_id}/release",
            json={"reason": "case closed"},
            headers=bearer(world.dpo.token),
        )
        assert response.status_code == 200
        assert response.json()["active"] is False
        assert response.json()["release_reason"] == "case closed"
        assert api.get("/v1/holds", headers=bearer(world.dpo.token)).json()["items"] == []
        everything = api.get(
            "/v1/holds", params={"include_released": "true"}, headers=bearer(world.dpo.token)
        ).json()
        assert [h["id"] for h in everything["items"]] == [hold_id]
        again = api.post(
            f"/v1/holds/{hold_id}/release",
            json={"reason": "again"},
            headers=bearer(world.dpo.token),
        )
        assert again.status_code == 400

    def test_release_unknown_is_404(self, api: TestClient, world: World) -> None:
        response = api.post(
            f"/v1/holds/{uuid.uuid4()}/release",
            json={"reason": "r"},
            headers=bearer(world.dpo.token),
        )
        assert response.status_code == 404

    def test_list_pages_by_cursor(self, api: TestClient, world: World) -> None:
        ids = [
            place(api, world, world.nl, world.dpo.token, case=f"C-{i}").json()["id"]
            for i in range(3)
        ]
        first = api.get("/v1/holds", params={"limit": 2}, headers=bearer(world.dpo.token)).json()
        assert len(first["items"]) == 2 and first["next"]
        second = api.get(
            "/v1/holds",
            params={"limit": 2, "cursor": first["next"]},
            headers=bearer(world.dpo.token),
        ).json()
        assert second["next"] is None
        assert sorted(h["id"] for h in first["items"] + second["items"]) == sorted(ids)

    def test_bad_cursor_is_400(self, api: TestClient, world: World) -> None:
        response = api.get(
            "/v1/holds", params={"cursor": "eyJ4Ijox"}, headers=bearer(world.dpo.token)
        )
        assert response.status_code == 400

    def test_list_needs_every_country(self, api: TestClient, world: World) -> None:
        response = api.get("/v1/holds", headers=bearer(world.recruiter.token))
        assert response.status_code == 403
        assert audit_entries(world.engine, action="hold.list")[-1]["outcome"] == "denied"
