"""Grants: who may grant what, four-eyes approval, expiry bounds, revocation, and their audit."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from retention.access import grants, principals
from retention.errors import AccessDenied, BadInput
from retention.store import Grant
from retention.subjects import Gateway
from tests.access_support import (
    World,
    audit_count,
    audit_rows,
    create_enrolled,
    snapshot,
)


class TestGrant:
    def test_recruiter_grant_is_active_and_audited(self, world: World) -> None:
        """A recruiter grant is active at once and recorded as access.grant by the admin."""
        g = grants.grant_access(
            world.engine,
            world.admin.principal_id,
            "dpo",
            "auditor",
            "RO,nl",
            "4w",
            "audit prep",
            clock=world.clock,
        )
        assert g.status == "active" and g.countries == "NL,RO"
        assert g.expires_at == world.clock() + timedelta(days=28)
        entry = audit_rows(world.engine, action="access.grant")[-1]
        assert entry.actor == str(world.admin.principal_id) and entry.outcome == "ok"

    def test_nobody_grants_to_themselves(self, world: World) -> None:
        """A self-grant is denied, audited as denied, and changes nothing."""
        before = snapshot(world.engine)
        with pytest.raises(AccessDenied, match="nobody grants to themselves"):
            grants.grant_access(
                world.engine,
                world.admin.principal_id,
                "admin",
                "dpo",
                "*",
                "30d",
                "me",
                clock=world.clock,
            )
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, action="access.grant")[-1].outcome == "denied"

    @pytest.mark.parametrize(
        ("expires", "message"),
        [
            ("2020-01-01", "--expires is in the past: a grant must end in the future"),
            ("366d", "--expires is more than 365 days away: grant for less"),
            ("13m", "--expires is more than 365 days away: grant for less"),
            ("0d", "--expires must be a positive duration"),
            (
                "-5d",
                "--expires must be a duration like 30d, 4w, 6m or 1y, or a date like 2027-01-31",
            ),
            (
                "'; DROP TABLE access_grant; --",
                "--expires must be a duration like 30d, 4w, 6m or 1y, or a date like 2027-01-31",
            ),
        ],
    )
    def test_expiry_bounds(self, world: World, expires: str, message: str) -> None:
        """Expiries in the past, beyond 365 days or malformed are bad input; nothing changes."""
        before = snapshot(world.engine)
        with pytest.raises(BadInput) as exc:
            grants.grant_access(
                world.engine,
                world.admin.principal_id,
                "rita",
                "recruiter",
                "NL",
                expires,
                "x",
                clock=world.clock,
            )
        assert exc.value.message == message
        assert snapshot(world.engine) == before

    def test_365_days_is_allowed(self, world: World) -> None:
        """Exactly 365 days is the longest grant."""
        g = grants.grant_access(
            world.engine,
            world.admin.principal_id,
            "rita",
            "recruiter",
            "DE",
            "365d",
            "x",
            clock=world.clock,
        )
        assert g.expires_at == world.clock() + timedelta(days=365)

    def test_recruiter_cannot_grant(self, world: World) -> None:
        """Granting needs access:manage: a recruiter is denied and the attempt audited."""
        with pytest.raises(AccessDenied, match="access:manage"):
            grants.grant_access(
                world.engine,
                world.recruiter.principal_id,
                "dpo",
                "recruiter",
                "NL",
                "1d",
                "x",
                clock=world.clock,
            )
        assert audit_rows(world.engine, action="access.grant")[-1].outcome == "denied"

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ({"role": "root"}, "unknown role"),
            ({"countries": "NL; DROP TABLE x"}, "--country must be"),
            ({"countries": "N" * 5000}, "--country must be"),
            ({"reason": ""}, "--reason is required"),
            ({"reason": "r" * 1001}, "--reason is longer than 1000 characters"),
            ({"reason": "asked by ana@example.org"}, "--reason looks like it holds personal data"),
            ({"principal": "x' OR '1'='1"}, "principal name must be"),
            ({"principal": "p" * 10_000}, "principal name must be"),
        ],
    )
    def test_bad_arguments(self, world: World, args: dict[str, str], message: str) -> None:
        """SQL metacharacters and very long strings in every argument are refused as bad input."""
        call = {"principal": "rita", "role": "recruiter", "countries": "NL", "reason": "x", **args}
        before = audit_count(world.engine)
        with pytest.raises(BadInput, match=message):
            grants.grant_access(
                world.engine,
                world.admin.principal_id,
                call["principal"],
                call["role"],
                call["countries"],
                "30d",
                call["reason"],
                clock=world.clock,
            )
        assert audit_count(world.engine) == before


class TestFourEyes:
    def _pending_dpo_grant(self, world: World) -> Grant:
        return grants.grant_access(
            world.engine,
            world.admin.principal_id,
            "rita",
            "dpo",
            "*",
            "30d",
            "cover",
            clock=world.clock,
        )

    def test_privileged_grant_is_pending_and_gives_nothing(self, world: World) -> None:
        """A dpo grant waits for approval and gives nothing meanwhile."""
        g = self._pending_dpo_grant(world)
        assert g.status == "pending"
        _, decision = grants.check_access(
            world.engine,
            world.admin.principal_id,
            "rita",
            "candidate:export",
            "NL",
            clock=world.clock,
        )
        assert not decision.allowed and "pending approval" in decision.reason

    def test_grantee_cannot_approve_own_grant(self, world: World) -> None:
        """A grantee holding access:approve may not approve its own grant: denied, audited."""
        g = grants.grant_access(
            world.engine,
            world.admin.principal_id,
            "dpo",
            "dpo",
            "RO",
            "30d",
            "extra",
            clock=world.clock,
        )
        with pytest.raises(AccessDenied, match="four eyes"):
            grants.approve_grant(world.engine, world.dpo.principal_id, str(g.id), clock=world.clock)
        assert audit_rows(world.engine, action="access.approve")[-1].outcome == "denied"
        listed = grants.list_grants(world.engine, world.admin.principal_id, "dpo")
        assert {row.id: row.status for row, _ in listed}[g.id] == "pending"

    def test_admin_grantor_cannot_approve(self, world: World) -> None:
        """An admin lacks access:approve (and is the grantor): denied."""
        g = self._pending_dpo_grant(world)
        with pytest.raises(AccessDenied, match="access:approve"):
            grants.approve_grant(
                world.engine, world.admin.principal_id, str(g.id), clock=world.clock
            )

    def test_grantor_with_approve_cannot_approve_own_grant(self, world: World) -> None:
        """A grantor holding both access:manage and access:approve still needs a second person."""
        admin, dpo = world.admin.principal_id, world.dpo.principal_id
        principals.create_principal(world.engine, admin, "boss", "human", clock=world.clock)
        for role in ("admin", "dpo"):
            g = grants.grant_access(
                world.engine, admin, "boss", role, "*", "30d", "x", clock=world.clock
            )
            grants.approve_grant(world.engine, dpo, str(g.id), clock=world.clock)
        boss = principals.find_principal_by_name(world.engine, "boss")
        pending = grants.grant_access(
            world.engine, boss, "rita", "dpo", "NL", "30d", "x", clock=world.clock
        )
        with pytest.raises(AccessDenied, match="four eyes"):
            grants.approve_grant(world.engine, boss, str(pending.id), clock=world.clock)

    def test_second_person_approves(self, world: World) -> None:
        """The DPO (neither grantor nor grantee) approves; the grant then allows."""
        g = self._pending_dpo_grant(world)
        done = grants.approve_grant(
            world.engine, world.dpo.principal_id, str(g.id), clock=world.clock
        )
        assert done.status == "active" and done.approved_by == world.dpo.principal_id
        _, decision = grants.check_access(
            world.engine,
            world.admin.principal_id,
            "rita",
            "candidate:export",
            "DE",
            clock=world.clock,
        )
        assert decision.allowed and decision.grant_id == g.id

    def test_expired_pending_grant_cannot_be_approved(self, world: World) -> None:
        """Approval after expiry is refused."""
        g = self._pending_dpo_grant(world)
        world.clock.advance(timedelta(days=31))
        with pytest.raises(BadInput, match="has expired"):
            grants.approve_grant(world.engine, world.dpo.principal_id, str(g.id), clock=world.clock)


class TestRevoke:
    def test_revoked_grant_gives_nothing(self, world: World) -> None:
        """After revocation the recruiter's grant no longer allows reads; audited with reason."""
        grants.revoke_grant(
            world.engine,
            world.admin.principal_id,
            str(world.recruiter_grant),
            "left team",
            clock=world.clock,
        )
        _, decision = grants.check_access(
            world.engine,
            world.admin.principal_id,
            "rita",
            "candidate:read",
            "NL",
            clock=world.clock,
        )
        assert not decision.allowed and "was revoked" in decision.reason
        assert audit_rows(world.engine, action="access.revoke")[-1].outcome == "ok"

    def test_revoke_twice_is_refused(self, world: World) -> None:
        """A revoked grant cannot be revoked again."""
        args = (world.engine, world.admin.principal_id, str(world.recruiter_grant), "x")
        grants.revoke_grant(*args, clock=world.clock)
        with pytest.raises(BadInput, match="already revoked"):
            grants.revoke_grant(*args, clock=world.clock)

    def test_bad_grant_id(self, world: World) -> None:
        """A grant id that is not a UUID is bad input."""
        with pytest.raises(BadInput, match="GRANT_ID must be a UUID"):
            grants.revoke_grant(world.engine, world.admin.principal_id, "1 OR 1=1", "x")


class TestListAndCheck:
    def test_list_shows_the_effective_status(self, world: World) -> None:
        """A grant past its expiry is listed as expired, a revoked one as revoked."""
        world.clock.advance(timedelta(days=31))
        rows = grants.list_grants(world.engine, world.admin.principal_id, "rita", clock=world.clock)
        assert [g.status for g, _ in rows] == ["expired"]
        grants.revoke_grant(
            world.engine, world.admin.principal_id, str(rows[0][0].id), "left", clock=world.clock
        )
        rows = grants.list_grants(world.engine, world.admin.principal_id, "rita", clock=world.clock)
        assert [g.status for g, _ in rows] == ["revoked"]

    def test_list_needs_access_reader(self, world: World) -> None:
        """A recruiter may not list grants; the admin sees every grant with names."""
        with pytest.raises(AccessDenied):
            grants.list_grants(world.engine, world.recruiter.principal_id, clock=world.clock)
        rows = grants.list_grants(world.engine, world.admin.principal_id, "rita", clock=world.clock)
        assert [(g.role, name) for g, name in rows] == [("recruiter", "rita")]


class TestNoOnePrincipalAlone:
    """No one principal, nor anyone holding credentials it issued, reaches personal data alone."""

    def _second_approver(self, world: World) -> uuid.UUID:
        """A deputy DPO, so that approvals remain possible while the DPO's grant is suspended."""
        admin = world.admin.principal_id
        deputy = create_enrolled(world.engine, admin, "dora", world.clock)
        g = grants.grant_access(
            world.engine, admin, "dora", "dpo", "*", "30d", "deputy", clock=world.clock
        )
        grants.approve_grant(world.engine, world.dpo.principal_id, str(g.id), clock=world.clock)
        return deputy.principal_id

    def _reads(self, world: World, principal: uuid.UUID) -> bool:
        gateway = Gateway(
            world.engine, principal, world.installation.config.documents_dir, world.clock
        )
        try:
            gateway.show(world.nl)
        except AccessDenied:
            return False
        return True

    @pytest.mark.parametrize(
        ("role", "countries", "pending"),
        [
            ("recruiter", "NL", True),
            ("integration", "NL", True),
            ("dpo", "NL", True),
            ("admin", "NL", True),
            ("auditor", "NL", False),
            ("auditor", "*", True),
            ("scheduler", "*", True),
        ],
    )
    def test_personal_data_and_every_country_wait_for_approval(
        self, world: World, role: str, countries: str, pending: bool
    ) -> None:
        """Grants reaching personal data or every country are pending; others active at once."""
        g = grants.grant_access(
            world.engine,
            world.admin.principal_id,
            "rita",
            role,
            countries,
            "30d",
            "x",
            clock=world.clock,
        )
        assert g.status == ("pending" if pending else "active")

    def test_rotating_anothers_token_hands_over_nothing(self, world: World) -> None:
        """The admin rotates the DPO's token and redeems the code: the DPO's grant is suspended."""
        admin = world.admin.principal_id
        self._second_approver(world)
        rotated = principals.rotate_token(world.engine, admin, "dpo", clock=world.clock)
        (dpo_grant,) = rotated.suspended
        as_dpo = principals.enroll(world.engine, rotated.code, clock=world.clock)
        assert not self._reads(world, as_dpo.principal_id)
        entry = audit_rows(world.engine, action="principal.rotate_token")[-1]
        assert json.loads(entry.canonical)["details"]["suspended_grants"] == [str(dpo_grant)]

    def test_suspended_grant_is_approved_again_by_someone_else(self, world: World) -> None:
        """After a rotation by a boss, the boss (the issuer) may not approve; a deputy may."""
        admin, dpo = world.admin.principal_id, world.dpo.principal_id
        deputy = self._second_approver(world)
        boss = create_enrolled(world.engine, admin, "boss", world.clock).principal_id
        for role in ("admin", "dpo"):
            g = grants.grant_access(
                world.engine, admin, "boss", role, "*", "30d", "x", clock=world.clock
            )
            grants.approve_grant(world.engine, dpo, str(g.id), clock=world.clock)
        rotated = principals.rotate_token(world.engine, boss, "rita", clock=world.clock)
        assert rotated.suspended == (world.recruiter_grant,)
        principals.enroll(world.engine, rotated.code, clock=world.clock)
        with pytest.raises(AccessDenied, match="issued the grantee's credential"):
            grants.approve_grant(world.engine, boss, str(world.recruiter_grant), clock=world.clock)
        assert audit_rows(world.engine, action="access.approve")[-1].outcome == "denied"
        assert not self._reads(world, world.recruiter.principal_id)
        grants.approve_grant(world.engine, deputy, str(world.recruiter_grant), clock=world.clock)
        assert self._reads(world, world.recruiter.principal_id)

    def test_admin_made_principal_reads_nothing_alone(self, world: World) -> None:
        """An admin's own principal with an all-country grant reads nothing until approved."""
        admin = world.admin.principal_id
        eve = create_enrolled(world.engine, admin, "eve", world.clock)  # the admin redeems
        g = grants.grant_access(
            world.engine, admin, "eve", "recruiter", "*", "365d", "x", clock=world.clock
        )
        assert g.status == "pending"
        assert not self._reads(world, eve.principal_id)
        grants.approve_grant(world.engine, world.dpo.principal_id, str(g.id), clock=world.clock)
        assert self._reads(world, eve.principal_id)

    def test_issuer_of_the_credential_may_not_approve(self, world: World) -> None:
        """A boss who created eve (and may hold her token) cannot approve another's grant to her."""
        admin, dpo = world.admin.principal_id, world.dpo.principal_id
        boss = create_enrolled(world.engine, admin, "boss", world.clock).principal_id
        for role in ("admin", "dpo"):
            g = grants.grant_access(
                world.engine, admin, "boss", role, "*", "30d", "x", clock=world.clock
            )
            grants.approve_grant(world.engine, dpo, str(g.id), clock=world.clock)
        create_enrolled(world.engine, boss, "eve", world.clock)
        g = grants.grant_access(
            world.engine, admin, "eve", "recruiter", "NL", "30d", "x", clock=world.clock
        )
        before = snapshot(world.engine)
        with pytest.raises(AccessDenied, match="four eyes: whoever issued"):
            grants.approve_grant(world.engine, boss, str(g.id), clock=world.clock)
        assert snapshot(world.engine) == before
        assert (
            grants.approve_grant(world.engine, dpo, str(g.id), clock=world.clock).status == "active"
        )
