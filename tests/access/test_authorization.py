"""The pure access decision: deny by default, grants only while in force, country scoping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from retention.access import GrantStatus, GrantView, Permission, PrincipalView, Role, decide
from retention.access.permissions import ROLE_PERMISSIONS

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ME = PrincipalView(uuid.uuid4(), "rita")


def grant(
    role: Role = Role.RECRUITER,
    countries: frozenset[str] | None = frozenset({"NL"}),
    status: GrantStatus = GrantStatus.ACTIVE,
    expires_at: datetime = AT + timedelta(days=30),
    revoked_at: datetime | None = None,
    principal: uuid.UUID = ME.id,
) -> GrantView:
    return GrantView(uuid.uuid4(), principal, role, countries, status, expires_at, revoked_at)


class TestDefaults:
    def test_no_grants_denies(self) -> None:
        """Without any grant every permission is denied, with a reason naming it."""
        for permission in Permission:
            decision = decide(ME, [], permission, "NL", AT)
            assert not decision.allowed
            assert decision.reason == f"no grant gives {permission}"

    def test_role_table_is_the_issue_table(self) -> None:
        """The admin role holds no permission on personal data and the auditor none either."""
        personal = {
            Permission.CANDIDATE_READ,
            Permission.CANDIDATE_WRITE,
            Permission.CANDIDATE_EXPORT,
            Permission.CANDIDATE_ERASE,
            Permission.CONSENT_WRITE,
            Permission.REQUEST_MANAGE,
        }
        assert ROLE_PERMISSIONS[Role.ADMIN] == {Permission.ACCESS_MANAGE, Permission.AUDIT_VERIFY}
        assert not ROLE_PERMISSIONS[Role.AUDITOR] & personal
        # request:manage (issue 16) and consent:campaign (issue 17)
        assert len(ROLE_PERMISSIONS[Role.DPO]) == 15
        assert Permission.REQUEST_MANAGE in ROLE_PERMISSIONS[Role.DPO]
        assert Permission.CONSENT_CAMPAIGN in ROLE_PERMISSIONS[Role.SCHEDULER]


class TestGrantsInForce:
    def test_active_grant_allows_in_its_country(self) -> None:
        """An active recruiter grant for NL allows candidate:read in NL and names the grant."""
        g = grant()
        decision = decide(ME, [g], Permission.CANDIDATE_READ, "NL", AT)
        assert decision.allowed and decision.grant_id == g.id and decision.role is Role.RECRUITER

    def test_other_country_is_denied(self) -> None:
        """A grant for NL gives nothing for a subject in DE, and says so."""
        g = grant()
        decision = decide(ME, [g], Permission.CANDIDATE_READ, "DE", AT)
        assert not decision.allowed
        assert decision.reason == f"grant {g.id} (recruiter) covers NL, not DE"

    def test_country_less_request_needs_all_countries(self) -> None:
        """A request about no single country needs a '*' grant."""
        assert not decide(ME, [grant()], Permission.CANDIDATE_READ, None, AT).allowed
        assert decide(ME, [grant(countries=None)], Permission.CANDIDATE_READ, None, AT).allowed

    @pytest.mark.parametrize(
        ("kwargs", "reason"),
        [
            ({"expires_at": AT}, "expired"),
            ({"expires_at": AT - timedelta(seconds=1)}, "expired"),
            ({"revoked_at": AT - timedelta(days=1)}, "was revoked"),
            ({"status": GrantStatus.PENDING}, "is pending approval"),
        ],
    )
    def test_grants_not_in_force_give_nothing(self, kwargs: dict, reason: str) -> None:
        """Expired (at the instant itself too), revoked and pending grants give nothing."""
        g = grant(**kwargs)
        decision = decide(ME, [g], Permission.CANDIDATE_READ, "NL", AT)
        assert not decision.allowed
        assert decision.reason == f"grant {g.id} (recruiter) {reason}"

    def test_disabled_principal_gets_nothing(self) -> None:
        """A disabled principal is denied whatever its grants."""
        me = PrincipalView(ME.id, "rita", disabled_at=AT - timedelta(minutes=1))
        decision = decide(me, [grant(countries=None)], Permission.CANDIDATE_READ, "NL", AT)
        assert not decision.allowed and decision.reason == "the principal is disabled"

    def test_permission_outside_role_is_denied(self) -> None:
        """A recruiter grant does not give candidate:export."""
        assert not decide(ME, [grant()], Permission.CANDIDATE_EXPORT, "NL", AT).allowed

    def test_someone_elses_grant_is_ignored(self) -> None:
        """Grants of another principal never count."""
        g = grant(principal=uuid.uuid4(), countries=None)
        assert not decide(ME, [g], Permission.CANDIDATE_READ, "NL", AT).allowed

    def test_one_good_grant_among_bad_ones_allows(self) -> None:
        """The decision looks at every grant: one in force is enough."""
        good = grant(countries=frozenset({"DE", "NL"}))
        grants = [grant(status=GrantStatus.PENDING), grant(expires_at=AT), good]
        assert decide(ME, grants, Permission.CANDIDATE_READ, "DE", AT).grant_id == good.id
