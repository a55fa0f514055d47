"""The access operations called directly: they authorize themselves, audit denials, render JSON."""

from __future__ import annotations

import pytest

from retention.access import PrincipalView
from retention.errors import AccessDenied, BadInput
from retention.install import Installation
from retention.operations import access as ops
from retention.results import json_data
from retention.testing import FixedClock
from tests.access_support import World, audit_count, audit_rows, build_world, snapshot


@pytest.fixture
def world(installation: Installation, clock: FixedClock) -> World:
    return build_world(installation, clock)


def as_principal(issued) -> PrincipalView:
    return PrincipalView(issued.principal_id, issued.name)


class TestAuthorizationInside:
    def test_create_principal_without_access_manage(self, world: World) -> None:
        """A recruiter calling the operation directly is denied, audited, and nothing changes."""
        before = snapshot(world.engine)
        with pytest.raises(AccessDenied, match="access:manage"):
            ops.create_principal(
                world.installation,
                as_principal(world.recruiter),
                ops.CreatePrincipal("eve", "human"),
                clock=world.clock,
            )
        assert snapshot(world.engine) == before
        entry = audit_rows(world.engine, action="principal.create")[-1]
        assert (entry.actor, entry.outcome) == (str(world.recruiter.principal_id), "denied")

    def test_grant_without_access_manage(self, world: World) -> None:
        """Granting as a recruiter is denied and audited as access.grant."""
        before = snapshot(world.engine)
        request = ops.GrantAccess("dpo", "recruiter", "NL", "1d", "cover")
        with pytest.raises(AccessDenied):
            ops.grant_access(
                world.installation, as_principal(world.recruiter), request, clock=world.clock
            )
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, action="access.grant")[-1].outcome == "denied"

    def test_check_without_access_reader(self, world: World) -> None:
        """Asking who may do what needs access:manage, access:approve or audit:read."""
        request = ops.CheckAccess("dpo", "candidate:read")
        with pytest.raises(AccessDenied):
            ops.check_access(
                world.installation, as_principal(world.recruiter), request, clock=world.clock
            )
        assert audit_rows(world.engine, action="access.check")[-1].outcome == "denied"


class TestCountries:
    def test_grant_aliases_become_iso_codes(self, world: World) -> None:
        """UK and EL in a grant are stored as GB and GR."""
        request = ops.GrantAccess("rita", "recruiter", "UK,el,nl", "7d", "EU hiring")
        grant = ops.grant_access(
            world.installation, as_principal(world.admin), request, clock=world.clock
        )
        assert grant.countries == "GB,GR,NL"

    @pytest.mark.parametrize("countries", ["XX", "NL,XX", "US", "Germany", "NL,,RO", "*,NL"])
    def test_grant_refuses_uncovered_codes(self, world: World, countries: str) -> None:
        """A code the engine does not cover is bad input, before anything is audited."""
        before = audit_count(world.engine)
        request = ops.GrantAccess("rita", "recruiter", countries, "7d", "x")
        with pytest.raises(BadInput, match="--country must be '\\*' or ISO 3166-1"):
            ops.grant_access(
                world.installation, as_principal(world.admin), request, clock=world.clock
            )
        assert audit_count(world.engine) == before

    def test_check_names_the_code_it_checked(self, world: World) -> None:
        """`UK` is checked (and reported) as GB; `XX` is bad input."""
        admin = as_principal(world.admin)
        check = ops.check_access(
            world.installation, admin, ops.CheckAccess("rita", "candidate:read", "uk")
        )
        assert (check.country, check.allowed) == ("GB", False)
        assert "covers NL, not GB" in check.reason
        with pytest.raises(BadInput, match="--country: 'XX' is not a country code"):
            ops.check_access(
                world.installation, admin, ops.CheckAccess("rita", "candidate:read", "XX")
            )


class TestResults:
    def test_grant_json_keys_and_instants(self, world: World) -> None:
        """A grant renders with its columns, instants in RFC 3339 with Z, no grantee name."""
        request = ops.GrantAccess("rita", "auditor", "NL", "7d", "audit")
        data = json_data(
            ops.grant_access(
                world.installation, as_principal(world.admin), request, clock=world.clock
            )
        )
        assert isinstance(data, dict) and "principal" not in data
        assert data["expires_at"].endswith("Z") and "+00:00" not in data["expires_at"]
        assert data["granted_by"] == str(world.admin.principal_id)

    def test_lists_are_arrays_with_names(self, world: World) -> None:
        """Grants and principals list as one array each; listed grants carry the grantee name."""
        admin = as_principal(world.admin)
        grants = json_data(ops.list_grants(world.installation, admin, ops.ListGrants("rita")))
        assert isinstance(grants, list) and [g["principal"] for g in grants] == ["rita"]
        people = json_data(ops.list_principals(world.installation, admin, ops.ListPrincipals()))
        assert isinstance(people, list)
        assert {p["name"] for p in people} == {"admin", "dpo", "rita"}
        assert all(p["created_at"].endswith("Z") for p in people)

    def test_issued_credential_json(self, world: World) -> None:
        """A created principal's JSON holds id, name, kind and an enrollment code (never a
        token); a rotation a new code and the suspended grants; only enrolling gives a token."""
        admin = as_principal(world.admin)
        created = json_data(
            ops.create_principal(world.installation, admin, ops.CreatePrincipal("svc", "service"))
        )
        assert isinstance(created, dict)
        assert set(created) == {"id", "name", "kind", "enrollment_code", "expires_at"}
        rotated = json_data(ops.rotate_token(world.installation, admin, ops.RotateToken("svc")))
        assert isinstance(rotated, dict)
        assert set(rotated) == {"id", "name", "enrollment_code", "expires_at", "suspended_grants"}
        assert rotated["enrollment_code"] != created["enrollment_code"]
        enrolled = json_data(ops.enroll(world.installation, ops.Enroll(rotated["enrollment_code"])))
        assert isinstance(enrolled, dict) and set(enrolled) == {"id", "name", "token"}

    def test_review_json(self, world: World) -> None:
        """The access review renders its sections with Z instants."""
        review = json_data(
            ops.review_access(world.installation, as_principal(world.dpo), ops.ReviewAccess())
        )
        assert isinstance(review, dict) and review["at"].endswith("Z")
        assert {g["principal"] for g in review["privileged"]} == {"admin", "dpo"}
