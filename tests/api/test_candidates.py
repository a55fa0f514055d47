"""`/v1/candidates` in process: audited reads and searches, and the shared error behaviour."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from retention.api import create_app
from retention.install import Installation
from retention.store import Candidate, connect, is_sqlite, transaction
from tests.access_support import World
from tests.api.conftest import audit_entries, bearer


def email_of(world: World, subject: uuid.UUID) -> str:
    with transaction(world.engine) as conn:
        return (
            conn.execute(Candidate.__table__.select().where(Candidate.__table__.c.id == subject))
            .one()
            .email
        )


class TestGetCandidate:
    def test_allowed_read_is_audited_with_channel_and_request_id(
        self, api: TestClient, world: World
    ) -> None:
        response = api.get(f"/v1/candidates/{world.nl}", headers=bearer(world.recruiter.token))
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(world.nl)
        assert body["country"] == "NL"
        assert body["email"] == email_of(world, world.nl)
        entry = audit_entries(world.engine, action="candidate.read", subject=world.nl)[-1]
        assert entry["outcome"] == "ok"
        assert entry["actor"] == str(world.recruiter.principal_id)
        assert entry["details"]["via"] == {
            "channel": "api",
            "request_id": response.headers["X-Request-ID"],
        }

    def test_personal_data_is_not_cached_or_sniffed(self, api: TestClient, world: World) -> None:
        response = api.get(f"/v1/candidates/{world.nl}", headers=bearer(world.recruiter.token))
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    def test_other_country_is_403_and_audited_denied(self, api: TestClient, world: World) -> None:
        response = api.get(f"/v1/candidates/{world.de}", headers=bearer(world.recruiter.token))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 403
        assert problem["type"].endswith(":forbidden")
        assert "covers NL, not DE" in problem["detail"]
        assert problem["request_id"] == response.headers["X-Request-ID"]
        entry = audit_entries(world.engine, action="candidate.read", subject=world.de)[-1]
        assert entry["outcome"] == "denied"
        assert entry["details"]["via"]["request_id"] == response.headers["X-Request-ID"]

    def test_unknown_subject_is_404_and_on_record(self, api: TestClient, world: World) -> None:
        missing = uuid.uuid4()
        response = api.get(f"/v1/candidates/{missing}", headers=bearer(world.dpo.token))
        assert response.status_code == 404
        assert response.json()["detail"] == f"no subject {missing}"
        entry = audit_entries(world.engine, action="candidate.read", subject=missing)[-1]
        assert entry["outcome"] == "error"
        assert entry["details"]["via"]["channel"] == "api"

    def test_blocked_subject_needs_a_dpo_stating_a_reason(
        self, api: TestClient, world: World
    ) -> None:
        url = f"/v1/candidates/{world.blocked}"
        assert api.get(url, headers=bearer(world.dpo.token)).status_code == 403
        headers = {**bearer(world.dpo.token), "GDPR-Reason": "DSR-2026-0142"}
        response = api.get(url, headers=headers)
        assert response.status_code == 200
        entry = audit_entries(world.engine, action="candidate.read", subject=world.blocked)[-1]
        assert (entry["outcome"], entry["reason"]) == ("ok", "DSR-2026-0142")

    def test_reason_with_personal_data_is_400(self, api: TestClient, world: World) -> None:
        headers = {**bearer(world.dpo.token), "GDPR-Reason": "asked by ana@example.org"}
        response = api.get(f"/v1/candidates/{world.nl}", headers=headers)
        assert response.status_code == 400
        assert "ana@example.org" not in response.text

    def test_malformed_id_is_422_without_echo(self, api: TestClient, world: World) -> None:
        response = api.get("/v1/candidates/not-a-uuid-x", headers=bearer(world.dpo.token))
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "not-a-uuid-x" not in response.text
        assert response.json()["errors"][0]["loc"] == ["path", "candidate_id"]


class TestAuthentication:
    def test_no_token_is_401_with_challenge(self, api: TestClient, world: World) -> None:
        response = api.get(f"/v1/candidates/{world.nl}")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["detail"] == "no token: send 'Authorization: Bearer <token>'"

    def test_bad_token_is_401_audited_and_not_echoed(self, api: TestClient, world: World) -> None:
        token = "gdpr_" + "A" * 43
        response = api.get(f"/v1/candidates/{world.nl}", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["detail"] == "authentication failed: unknown token"
        assert token not in response.text
        entry = audit_entries(world.engine, action="auth.failed")[-1]
        assert entry["details"]["via"]["request_id"] == response.headers["X-Request-ID"]

    def test_authentication_comes_before_validation(self, api: TestClient, world: World) -> None:
        """An anonymous caller learns nothing about the shape of valid requests."""
        assert api.get("/v1/candidates/not-a-uuid").status_code == 401


class TestSearch:
    def test_by_email_finds_what_the_principal_may_read(
        self, api: TestClient, world: World
    ) -> None:
        email = email_of(world, world.nl)
        response = api.post(
            "/v1/candidates/search",
            json={"email": email.upper()},
            headers=bearer(world.recruiter.token),
        )
        assert response.status_code == 200
        assert [c["id"] for c in response.json()["items"]] == [str(world.nl)]
        entry = audit_entries(world.engine, action="candidate.find", subject=world.nl)[-1]
        assert entry["details"]["via"]["channel"] == "api"

    def test_out_of_scope_match_is_withheld_and_audited(
        self, api: TestClient, world: World
    ) -> None:
        response = api.post(
            "/v1/candidates/search",
            json={"email": email_of(world, world.de)},
            headers=bearer(world.recruiter.token),
        )
        assert response.status_code == 200
        assert response.json() == {"items": []}
        entry = audit_entries(world.engine, action="candidate.find", subject=world.de)[-1]
        assert entry["outcome"] == "denied"

    def test_both_keys_is_422_and_never_echoes_the_address(
        self, api: TestClient, world: World
    ) -> None:
        email = email_of(world, world.nl)
        response = api.post(
            "/v1/candidates/search",
            json={"email": email, "external_ref": "ATS-1"},
            headers=bearer(world.recruiter.token),
        )
        assert response.status_code == 422
        assert "exactly one of email or external_ref" in response.json()["detail"]
        assert email not in response.text

    def test_unknown_field_name_is_not_echoed(self, api: TestClient, world: World) -> None:
        response = api.post(
            "/v1/candidates/search",
            json={"external_ref": "ATS-1", "ana@example.org": 1},
            headers=bearer(world.recruiter.token),
        )
        assert response.status_code == 422
        assert "ana@example.org" not in response.text

    @pytest.mark.parametrize(
        ("email", "accepted"),
        [("ana@example.org", True), ("\u00e9l\u00e8ve@\u00e9cole.fr", True), ("x@\U0001f600", True),
         ("a\u0085b@c", False), ("a\ufeffb@c", False), ("a\u00a0b@c", False),
         ("a\u3000b@c", False), ("a@b\n", False), ("a\x1fb@c", False), ("a@b@c", False),
         ("@b", False)],
    )  # fmt: skip
    def test_email_pattern_means_what_the_schema_says(
        self, api: TestClient, world: World, email: str, accepted: bool
    ) -> None:
        """No white space or control character on either side of the @, and the server accepts
        exactly what the schema's pattern matches: the class is spelled out, so ECMA-262 (the
        schema's dialect, schemathesis's), Python's re and pydantic's Rust regex read it alike;
        `\\s` differs between them (schemathesis found U+0085 refused)."""
        schema = api.get("/openapi.json").json()["components"]["schemas"]["CandidateSearch"]
        pattern = next(
            alt["pattern"] for alt in schema["properties"]["email"]["anyOf"] if "pattern" in alt
        )
        assert "\\s" not in pattern
        assert bool(re.fullmatch(pattern.removeprefix("^").removesuffix("$"), email)) is accepted
        response = api.post(
            "/v1/candidates/search", json={"email": email}, headers=bearer(world.recruiter.token)
        )
        assert response.status_code == (200 if accepted else 422)


class TestShared:
    def test_openapi_is_3_1_with_the_routes(self, api: TestClient) -> None:
        document = api.get("/openapi.json").json()
        assert document["openapi"].startswith("3.1")
        assert "/v1/candidates/{candidate_id}" in document["paths"]
        assert "/v1/candidates/search" in document["paths"]
        assert "Problem" in document["components"]["schemas"]

    def test_unknown_route_is_a_problem(self, api: TestClient) -> None:
        response = api.get("/v1/nothing-here")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    def test_wrong_method_is_405_problem(self, api: TestClient, world: World) -> None:
        response = api.put(f"/v1/candidates/{world.nl}", headers=bearer(world.dpo.token))
        assert response.status_code == 405
        assert response.json()["status"] == 405
        assert response.headers["Allow"] == "DELETE, GET, PATCH"

    def test_database_down_is_503_with_retry_after(
        self, installation: Installation, world: World, tmp_path: Path
    ) -> None:
        """A database that cannot be reached (a real one: a closed port, a missing directory)."""
        if is_sqlite(installation.engine):
            url = f"sqlite:///{tmp_path}/missing/dir/gdpr.sqlite3"
        else:
            url = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
        down = Installation(installation.config, connect(url))
        with TestClient(create_app(down), raise_server_exceptions=False) as client:
            response = client.get(f"/v1/candidates/{world.nl}", headers=bearer(world.dpo.token))
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["Retry-After"]) > 0
        assert "missing" not in response.text and "127.0.0.1" not in response.text
