"""The first principals of an installation: one admin and one DPO, created by `gdpr init`.

Everything else needs a token, so `init` is the only unauthenticated path and must leave the
installation usable: an admin (to grant access) and a DPO (to approve grants and answer
data-subject requests). Two people are needed from the start, so four eyes hold from the start.
Their tokens are printed once and stored only as hashes.

This is the one trusted moment of an installation: whoever runs `init` sees both tokens, so their
grants are granted by and their credentials issued by the installation, not by a second person
(the access review flags them). Each holder replaces its token by rotating it itself (the
installer's copy then stops working), and named people get access through the four-eyes path.
"""

from __future__ import annotations

from datetime import timedelta

from audit_log import Event
from retention.access import (
    MAX_GRANT_DAYS,
    GrantStatus,
    IssuedToken,
    Role,
    insert_grant,
    insert_principal,
)
from retention.clock import Clock, utc_now
from retention.install.installation import Installation
from retention.store import PrincipalKind, record, transaction

__all__ = ["BOOTSTRAP_ACTOR", "bootstrap_lines", "bootstrap_principals", "init_step"]

BOOTSTRAP_ACTOR = "gdpr-init"
BOOTSTRAP_REASON = "bootstrap"


def bootstrap_principals(
    installation: Installation, *, clock: Clock = utc_now
) -> dict[Role, IssuedToken]:
    """Create the `admin` and `dpo` principals with active all-country grants, in one transaction."""
    at = clock()
    issued: dict[Role, IssuedToken] = {}
    with transaction(installation.engine) as conn:
        for role in (Role.ADMIN, Role.DPO):
            token = insert_principal(conn, role.value, PrincipalKind.HUMAN, at)
            grant_id = insert_grant(
                conn,
                token.principal_id,
                role,
                None,
                reason=BOOTSTRAP_REASON,
                at=at,
                expires_at=at + timedelta(days=MAX_GRANT_DAYS),
                granted_by=None,
                status=GrantStatus.ACTIVE,
            )
            record(
                conn,
                Event(
                    actor=BOOTSTRAP_ACTOR,
                    action="principal.create",
                    reason=BOOTSTRAP_REASON,
                    details={"principal": str(token.principal_id), "kind": "human"},
                ),
                Event(
                    actor=BOOTSTRAP_ACTOR,
                    action="access.grant",
                    reason=BOOTSTRAP_REASON,
                    details={
                        "grant": str(grant_id),
                        "principal": str(token.principal_id),
                        "role": role.value,
                        "countries": "*",
                        "expires_at": at + timedelta(days=MAX_GRANT_DAYS),
                        "status": GrantStatus.ACTIVE.value,
                    },
                ),
                at=at,
            )
            issued[role] = token
    return issued


def init_step(installation: Installation) -> list[str]:
    """The `gdpr init` step: bootstrap the principals and show their tokens once."""
    return bootstrap_lines(bootstrap_principals(installation))


def bootstrap_lines(issued: dict[Role, IssuedToken]) -> list[str]:
    """What `gdpr init` shows of the bootstrap principals: their tokens, this once."""
    return [
        "Bootstrap principals (tokens are shown only now; store them in a secret manager):",
        *(f"  {t.name}: {t.token}" for t in issued.values()),
        "Hand each token to its holder only; each then replaces it with its own "
        "('gdpr principal rotate-token NAME', then 'gdpr principal enroll').",
        f"Their grants expire in {MAX_GRANT_DAYS} days; grant named people their own access "
        "and disable these when done.",
    ]
