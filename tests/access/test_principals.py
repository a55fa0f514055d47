"""Principals and tokens: hashes only, constant-time lookup, audited changes and failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from retention.access import principals
from retention.access.principals import hash_token, new_token
from retention.errors import AccessDenied, BadInput
from retention.store import Token
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
        """A recruiter rotates its own token but not the DPO's."""
        issued = principals.rotate_token(
            world.engine, world.recruiter.principal_id, "rita", clock=world.clock
        )
        world.clock.advance(timedelta(seconds=1))
        assert principals.authenticate(world.engine, issued.token, clock=world.clock).name == "rita"
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
