"""Candidate writes over HTTP: upsert by ATS reference, PATCH with If-Match, export, erase,
consents; each through its operation, audited with the API channel."""

from __future__ import annotations

import hashlib
import json

from fastapi.testclient import TestClient

from retention.access import grants
from tests.access_support import World, create_enrolled
from tests.api.conftest import audit_entries, bearer


def integration_token(world: World) -> str:
    """A write-only principal (the ATS) for NL."""
    bot = create_enrolled(world.engine, world.admin.principal_id, "ats", world.clock, "service")
    g = grants.grant_access(
        world.engine, world.admin.principal_id, "ats", "integration", "NL", "30d", "ATS sync",
        clock=world.clock,
    )  # fmt: skip
    grants.approve_grant(world.engine, world.dpo.principal_id, str(g.id), clock=world.clock)
    return bot.token


class TestUpsert:
    def test_create_then_update_by_external_ref(self, api: TestClient, world: World) -> None:
        rita = bearer(world.recruiter.token)
        body = {"external_ref": "ATS-77", "country": "NL", "first_name": "Ana", "city": "Delft"}
        created = api.post("/v1/candidates", json=body, headers=rita)
        assert created.status_code == 201, created.text
        record = created.json()
        assert created.headers["Location"] == f"/v1/candidates/{record['id']}"
        assert (record["city"], record["external_ref"], record["status"]) == (
            "Delft",
            "ATS-77",
            "in_process",
        )
        assert created.headers["ETag"].startswith('"')
        entry = audit_entries(world.engine, action="candidate.create")[-1]
        assert entry["subject"] == record["id"]
        assert entry["details"]["via"]["request_id"] == created.headers["X-Request-ID"]
        assert "Delft" not in json.dumps(entry)
        again = api.post(
            "/v1/candidates",
            json={"external_ref": "ATS-77", "country": "NL", "city": "Leiden"},
            headers=rita,
        )
        assert again.status_code == 200
        assert (again.json()["id"], again.json()["city"]) == (record["id"], "Leiden")

    def test_create_outside_the_grant_is_403_and_audited(
        self, api: TestClient, world: World
    ) -> None:
        body = {"external_ref": "ATS-DE-1", "country": "DE", "city": "Bonn"}
        response = api.post("/v1/candidates", json=body, headers=bearer(world.recruiter.token))
        assert response.status_code == 403
        entry = audit_entries(world.engine, action="candidate.create")[-1]
        assert entry["outcome"] == "denied"

    def test_country_of_an_existing_subject_does_not_change(
        self, api: TestClient, world: World
    ) -> None:
        dpo = bearer(world.dpo.token)
        api.post("/v1/candidates", json={"external_ref": "ATS-9", "country": "NL"}, headers=dpo)
        moved = api.post(
            "/v1/candidates",
            json={"external_ref": "ATS-9", "country": "DE", "city": "Bonn"},
            headers=dpo,
        )
        assert moved.status_code == 400
        assert "does not change" in moved.json()["detail"]

    def test_write_only_principal_gets_id_fields_and_etag(
        self, api: TestClient, world: World
    ) -> None:
        ats = bearer(integration_token(world))
        body = {"external_ref": "ATS-5", "country": "NL", "email": "new.person@example.org"}
        response = api.post("/v1/candidates", json=body, headers=ats)
        assert response.status_code == 201
        assert set(response.json()) == {"id", "updated"}
        assert "new.person" not in response.text
        patched = api.patch(
            f"/v1/candidates/{response.json()['id']}",
            json={"city": "Utrecht"},
            headers={**ats, "If-Match": response.headers["ETag"]},
        )
        assert patched.status_code == 200
        assert patched.json()["updated"] == ["city"]


class TestPatch:
    def test_if_match_is_required_and_checked(self, api: TestClient, world: World) -> None:
        rita = bearer(world.recruiter.token)
        url = f"/v1/candidates/{world.nl}"
        etag = api.get(url, headers=rita).headers["ETag"]
        assert api.patch(url, json={"city": "Gouda"}, headers=rita).status_code == 428
        stale = api.patch(url, json={"city": "Gouda"}, headers={**rita, "If-Match": '"0000"'})
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"
        done = api.patch(url, json={"city": "Gouda"}, headers={**rita, "If-Match": etag})
        assert done.status_code == 200
        assert done.json()["city"] == "Gouda"
        assert done.headers["ETag"] != etag
        again = api.patch(url, json={"city": "Breda"}, headers={**rita, "If-Match": etag})
        assert again.status_code == 412
        assert api.get(url, headers=rita).json()["city"] == "Gouda"

    def test_null_clears_and_unknown_fields_are_refused(
        self, api: TestClient, world: World
    ) -> None:
        rita = {**bearer(world.recruiter.token), "If-Match": "*"}
        url = f"/v1/candidates/{world.nl}"
        assert api.patch(url, json={"city": None}, headers=rita).json()["city"] is None
        assert api.patch(url, json={"country": "DE"}, headers=rita).status_code == 422

    def test_other_country_is_403(self, api: TestClient, world: World) -> None:
        response = api.patch(
            f"/v1/candidates/{world.de}",
            json={"city": "Bonn"},
            headers={**bearer(world.recruiter.token), "If-Match": "*"},
        )
        assert response.status_code == 403


class TestExportAndErase:
    def test_export_is_a_download_with_its_digest(self, api: TestClient, world: World) -> None:
        response = api.get(f"/v1/candidates/{world.nl}/export", headers=bearer(world.dpo.token))
        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["X-Content-SHA256"] == hashlib.sha256(response.content).hexdigest()
        assert response.json()["subject"]["id"] == str(world.nl)
        entry = audit_entries(world.engine, action="candidate.export")[-1]
        assert entry["details"]["sha256"] == response.headers["X-Content-SHA256"]
        assert entry["details"]["via"]["channel"] == "api"

    def test_recruiter_may_not_export(self, api: TestClient, world: World) -> None:
        response = api.get(
            f"/v1/candidates/{world.nl}/export", headers=bearer(world.recruiter.token)
        )
        assert response.status_code == 403

    def test_erase_needs_a_reason_then_erases(self, api: TestClient, world: World) -> None:
        url = f"/v1/candidates/{world.nl}"
        dpo = bearer(world.dpo.token)
        assert api.delete(url, headers=dpo).status_code == 422
        done = api.delete(url, headers={**dpo, "GDPR-Reason": "DSR-2026-0001"})
        assert done.status_code == 200
        assert done.json()["applications"] == 1
        assert api.get(url, headers=dpo).status_code == 404
        entry = audit_entries(world.engine, action="candidate.erase")[-1]
        assert (entry["reason"], entry["details"]["via"]["channel"]) == ("DSR-2026-0001", "api")


class TestConsents:
    def test_record_list_page_and_withdraw(self, api: TestClient, world: World) -> None:
        rita = bearer(world.recruiter.token)
        url = f"/v1/candidates/{world.nl}/consents"
        given = api.post(
            url,
            json={"purpose": "newsletter", "notice": "2026-01", "channel": "web form"},
            headers=rita,
        )
        assert given.status_code == 201, given.text
        assert given.json()["purpose"] == "newsletter"
        first = api.get(url, params={"limit": 1}, headers=rita)
        assert first.status_code == 200
        assert len(first.json()["items"]) == 1 and first.json()["next"]
        second = api.get(url, params={"limit": 1, "cursor": first.json()["next"]}, headers=rita)
        assert [c["purpose"] for c in second.json()["items"]] == ["newsletter"]
        assert second.json()["next"] is None
        withdrawn = api.post(f"{url}/withdraw", json={"purpose": "newsletter"}, headers=rita)
        assert withdrawn.json() == {
            "subject": str(world.nl),
            "purpose": "newsletter",
            "withdrawn": 1,
        }
        assert audit_entries(world.engine, action="consent.withdraw")[-1]["details"]["via"]

    def test_limit_is_bounded(self, api: TestClient, world: World) -> None:
        url = f"/v1/candidates/{world.nl}/consents"
        response = api.get(url, params={"limit": 100000}, headers=bearer(world.dpo.token))
        assert response.status_code == 422
