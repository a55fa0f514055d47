"""Principals and tokens: hashes only, constant-time lookup, audited changes and failures."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from retention.access import principals
from retention.access.principals import credential_issuers, hash_token, new_token
from retention.errors import AccessDenied, BadInput
from retention.store import Enrollment, Token
from tests.access_support import World, audit_rows


class TestTokens:
    def test_token_shape(self) -> None:
        """Tokens carry the gdpr_ prefix and 32 random bytes (43 base64url characters)."""
        token = new_token()
        assert token.startswith("gdpr_") and len(token) == 48
        assert new_token() != token

    def test_only_the_hash_is_stored(self, world: World) -> None:
        """The database holds the SHA-256 of a token, never its text."""
        with world.engine.connect() as conn:
            stored = conn.execute(select(Token.token_hash)).scalars().all()
        assert hash_token(world.recruiter.token) in stored
        assert all(world.recruiter.token not in h for h in stored)


class TestAuthenticate:
    def test_valid_token(self, world: World) -> None:
        """A valid token yields its principal."""
        who = principals.authenticate(world.engine, world.recruiter.token, clock=world.clock)
        assert who.id == world.recruiter.principal_id and who.name == "rita"

    @pytest.mark.parametrize(
        ("token", "error", "message"),
        [
            (None, BadInput, "no token: set GDPR_TOKEN or pass --token-file"),
            ("gdpr_short", BadInput, "malformed token: expected 'gdpr_' followed by 43 characters"),
            ("gdpr_" + "x" * 43, AccessDenied, "authentication failed: unknown token"),
        ],
    )
    def test_failures_are_audited(
        self, world: World, token: str | None, error: type[Exception], message: str
    ) -> None:
        """Every failed authentication raises one clear error and leaves an auth.failed entry."""
        before = len(audit_rows(world.engine, action="auth.failed"))
        with pytest.raises(error) as exc:
            principals.authenticate(world.engine, token, clock=world.clock)
        assert exc.value.message == message  # type: ignore[attr-defined]
        assert len(audit_rows(world.engine, action="auth.failed")) == before + 1


class TestChanges:
    def test_duplicate_name_is_refused(self, world: World) -> None:
        """Names are unique."""
        with pytest.raises(BadInput, match="already exists"):
            principals.create_principal(
                world.engine, world.admin.principal_id, "rita", "human", clock=world.clock
            )

    def test_bad_kind(self, world: World) -> None:
        """Kind is human or service."""
        with pytest.raises(BadInput, match="human' or 'service"):
            principals.create_principal(world.engine, world.admin.principal_id, "bot", "robot")

    def test_disable_is_audited_and_not_for_oneself(self, world: World) -> None:
        """Disabling is audited with its reason; disabling oneself is refused."""
        with pytest.raises(BadInput, match="cannot disable yourself"):
            principals.disable_principal(
                world.engine, world.admin.principal_id, "admin", "x", clock=world.clock
            )
        principals.disable_principal(
            world.engine, world.admin.principal_id, "rita", "left", clock=world.clock
        )
        entry = audit_rows(world.engine, action="principal.disable")[-1]
        assert entry.outcome == "ok" and b'"reason":"left"' in entry.canonical

    def test_self_rotation_is_allowed_others_need_manage(self, world: World) -> None:
        """A recruiter rotates its own token (code, same issuer, no suspension), not the DPO's."""
        issued = principals.rotate_token(
            world.engine, world.recruiter.principal_id, "rita", clock=world.clock
        )
        assert issued.suspended == ()
        world.clock.advance(timedelta(seconds=1))
        with pytest.raises(AccessDenied, match="revoked token"):
            principals.authenticate(world.engine, world.recruiter.token, clock=world.clock)
        token = principals.enroll(world.engine, issued.code, clock=world.clock).token
        assert principals.authenticate(world.engine, token, clock=world.clock).name == "rita"
        with world.engine.connect() as conn:
            issuers = credential_issuers(conn, world.recruiter.principal_id, world.clock())
        # The admin issued the code rita first redeemed, and may hold what it gave: still issuer.
        assert issuers == {world.admin.principal_id}
        with pytest.raises(AccessDenied):
            principals.rotate_token(
                world.engine, world.recruiter.principal_id, "dpo", clock=world.clock
            )

    def test_list_needs_manage_or_audit_read(self, world: World) -> None:
        """The admin lists principals; a recruiter is denied."""
        names = [p.name for p in principals.list_principals(world.engine, world.admin.principal_id)]
        assert names == ["admin", "dpo", "rita"]
        with pytest.raises(AccessDenied):
            principals.list_principals(world.engine, world.recruiter.principal_id)


class TestEnrollment:
    """Credentials are issued to the person: create and rotate give a code, not a token."""

    def test_create_gives_a_code_stored_as_hash_and_no_token(self, world: World) -> None:
        """The creator gets a single-use code; only its hash is stored; no token exists yet."""
        created = principals.create_principal(
            world.engine, world.admin.principal_id, "eve", "human", clock=world.clock
        )
        assert created.code.startswith("enroll_") and len(created.code) == 50
        assert created.expires_at == world.clock() + principals.ENROLLMENT_TTL
        with world.engine.connect() as conn:
            codes = conn.execute(select(Enrollment.code_hash)).scalars().all()
            tokens = conn.execute(
                select(Token.id).where(Token.principal_id == created.principal_id)
            ).all()
        assert hash_token(created.code) in codes and created.code not in codes
        assert tokens == []

    def test_redeemed_token_records_its_issuer(self, world: World) -> None:
        """The token from a code records who issued the code; redemption is audited."""
        created = principals.create_principal(
            world.engine, world.admin.principal_id, "eve", "human", clock=world.clock
        )
        issued = principals.enroll(world.engine, created.code, clock=world.clock)
        with world.engine.connect() as conn:
            issuer = conn.execute(
                select(Token.issued_by).where(Token.token_hash == hash_token(issued.token))
            ).scalar_one()
        assert issuer == world.admin.principal_id
        entry = audit_rows(world.engine, action="principal.enroll")[-1]
        assert (entry.actor, entry.outcome) == (str(created.principal_id), "ok")
        assert issued.token.encode() not in entry.canonical
        assert created.code.encode() not in entry.canonical

    def test_second_redemption_fails_alarms_and_revokes(self, world: World) -> None:
        """A code used twice: refused, audited as an alarm, the first token revoked."""
        created = principals.create_principal(
            world.engine, world.admin.principal_id, "eve", "human", clock=world.clock
        )
        first = principals.enroll(world.engine, created.code, clock=world.clock)
        with pytest.raises(AccessDenied, match="already used; recorded as an alarm"):
            principals.enroll(world.engine, created.code, clock=world.clock)
        entry = audit_rows(world.engine, action="principal.enroll")[-1]
        assert entry.outcome == "denied"
        assert json.loads(entry.canonical)["details"]["alarm"] == "enrollment_code_reused"
        with pytest.raises(AccessDenied, match="revoked token"):
            principals.authenticate(world.engine, first.token, clock=world.clock)

    def test_expired_unknown_and_malformed_codes(self, world: World) -> None:
        """Codes live 24 hours; unknown codes are denied, malformed ones bad input; all audited."""
        created = principals.create_principal(
            world.engine, world.admin.principal_id, "eve", "human", clock=world.clock
        )
        before = len(audit_rows(world.engine, action="principal.enroll"))
        world.clock.advance(principals.ENROLLMENT_TTL)
        with pytest.raises(AccessDenied, match="expired enrollment code"):
            principals.enroll(world.engine, created.code, clock=world.clock)
        with pytest.raises(AccessDenied, match="unknown enrollment code"):
            principals.enroll(world.engine, "enroll_" + "x" * 43, clock=world.clock)
        with pytest.raises(BadInput, match="malformed enrollment code"):
            principals.enroll(world.engine, world.recruiter.token, clock=world.clock)
        assert len(audit_rows(world.engine, action="principal.enroll")) == before + 3

    def test_rotation_voids_an_earlier_code(self, world: World) -> None:
        """Only the newest code of a principal can be redeemed."""
        admin = world.admin.principal_id
        created = principals.create_principal(
            world.engine, admin, "eve", "human", clock=world.clock
        )
        rotated = principals.rotate_token(world.engine, admin, "eve", clock=world.clock)
        with pytest.raises(AccessDenied, match="expired enrollment code"):
            principals.enroll(world.engine, created.code, clock=world.clock)
        assert principals.enroll(world.engine, rotated.code, clock=world.clock).name == "eve"
