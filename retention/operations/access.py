"""Principals, tokens, grants and the access review as service operations, one shape for each.

The capability functions in `retention.access` authorize inside their own guarded transaction
(so a denial is audited and leaves nothing behind); these operations give every front end the
same entry: `operation(installation, principal, request, *, clock) -> result`, with results that
know their JSON. A front end never reaches `retention.access.grants` or `principals` itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from retention.access import (
    INSTALLATION,
    AccessReview,
    PrincipalView,
    ReviewedGrant,
    grants,
    principals,
)
from retention.access import review as access_review
from retention.clock import Clock, utc_now
from retention.countries import country_code
from retention.install import Installation
from retention.results import JSONData, rfc3339
from retention.store import Grant, Principal

__all__ = [
    "INSTALLATION",
    "AccessCheck",
    "AccessReview",
    "ApproveGrant",
    "CheckAccess",
    "CreatePrincipal",
    "DisablePrincipal",
    "Enroll",
    "GrantAccess",
    "GrantInfo",
    "IssuedCode",
    "IssuedCredential",
    "ListGrants",
    "ListPrincipals",
    "PrincipalInfo",
    "ReviewAccess",
    "ReviewedGrant",
    "RevokeGrant",
    "RotateToken",
    "approve_grant",
    "check_access",
    "create_principal",
    "disable_principal",
    "enroll",
    "grant_access",
    "list_grants",
    "list_principals",
    "review_access",
    "revoke_grant",
    "rotate_token",
]


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrincipalInfo:
    """A principal as listed: no token, no hash."""

    id: uuid.UUID
    name: str
    kind: str
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, row: Principal) -> PrincipalInfo:
        return cls(row.id, row.name, row.kind, row.created_at, row.disabled_at)


@dataclass(frozen=True)
class IssuedCredential:
    """A principal's new token: the one moment its text exists outside a hash."""

    id: uuid.UUID
    name: str
    token: str
    kind: str | None = None  # known when the principal was just created

    def to_json(self) -> JSONData:
        data: dict[str, Any] = {"id": str(self.id), "name": self.name, "token": self.token}
        if self.kind is not None:
            data["kind"] = self.kind
        return data


@dataclass(frozen=True)
class IssuedCode:
    """A single-use enrollment code for the person behind a principal, who redeems it for a token.

    The admin who creates or rotates never sees a token; `suspended_grants` lists the grants a
    rotation by someone else put back to pending.
    """

    id: uuid.UUID
    name: str
    code: str
    expires_at: datetime
    kind: str | None = None  # known when the principal was just created
    suspended_grants: tuple[uuid.UUID, ...] | None = None  # known after a rotation

    def to_json(self) -> JSONData:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "enrollment_code": self.code,
            "expires_at": rfc3339(self.expires_at),
        }
        if self.kind is not None:
            data["kind"] = self.kind
        if self.suspended_grants is not None:
            data["suspended_grants"] = [str(g) for g in self.suspended_grants]
        return data


@dataclass(frozen=True)
class GrantInfo:
    """One grant with every column, and its grantee's name when listed."""

    id: uuid.UUID
    principal_id: uuid.UUID
    role: str
    countries: str
    reason: str
    status: str
    created_at: datetime
    expires_at: datetime
    granted_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None
    revoke_reason: str | None
    principal: str | None = None

    @classmethod
    def of(cls, row: Grant, principal: str | None = None) -> GrantInfo:
        return cls(
            id=row.id,
            principal_id=row.principal_id,
            role=row.role,
            countries=row.countries,
            reason=row.reason,
            status=row.status,
            created_at=row.created_at,
            expires_at=row.expires_at,
            granted_by=row.granted_by,
            approved_by=row.approved_by,
            approved_at=row.approved_at,
            revoked_at=row.revoked_at,
            revoked_by=row.revoked_by,
            revoke_reason=row.revoke_reason,
            principal=principal,
        )

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def to_json(self) -> JSONData:
        data: dict[str, Any] = {
            "id": self.id,
            "principal_id": self.principal_id,
            "role": self.role,
            "countries": self.countries,
            "reason": self.reason,
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "granted_by": self.granted_by,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
        }
        # A single grant (grant, approve, revoke) says nothing about a name it was not asked for.
        if self.principal is not None:
            data["principal"] = self.principal
        return data


@dataclass(frozen=True)
class AccessCheck:
    """Whether a principal may use a permission (in a country) now, and why."""

    principal: str
    permission: str
    country: str | None
    allowed: bool
    grant: uuid.UUID | None
    reason: str


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatePrincipal:
    name: str
    kind: str


@dataclass(frozen=True)
class ListPrincipals:
    pass


@dataclass(frozen=True)
class DisablePrincipal:
    name: str  # or the principal's UUID
    reason: str


@dataclass(frozen=True)
class Enroll:
    code: str | None


@dataclass(frozen=True)
class RotateToken:
    name: str  # or the principal's UUID


@dataclass(frozen=True)
class GrantAccess:
    principal: str
    role: str
    countries: str  # '*' or covered codes, comma-separated (aliases such as UK accepted)
    expires: str  # a duration (30d) or a date
    reason: str


@dataclass(frozen=True)
class ApproveGrant:
    grant_id: str


@dataclass(frozen=True)
class RevokeGrant:
    grant_id: str
    reason: str


@dataclass(frozen=True)
class ListGrants:
    principal: str | None = None


@dataclass(frozen=True)
class CheckAccess:
    principal: str
    permission: str
    country: str | None = None  # None: every country


@dataclass(frozen=True)
class ReviewAccess:
    pass


# --- operations ---------------------------------------------------------------------------------


def create_principal(
    installation: Installation,
    principal: PrincipalView,
    request: CreatePrincipal,
    *,
    clock: Clock = utc_now,
) -> IssuedCode:
    """Create a principal (needs access:manage) and return the enrollment code of its person."""
    issued = principals.create_principal(
        installation.engine, principal.id, request.name, request.kind, clock=clock
    )
    return IssuedCode(
        issued.principal_id, issued.name, issued.code, issued.expires_at, kind=request.kind
    )


def enroll(
    installation: Installation, request: Enroll, *, clock: Clock = utc_now
) -> IssuedCredential:
    """Redeem an enrollment code for the principal's own token.

    No principal: the person has no token yet; the code is the credential, single use and
    short-lived, and a second redemption is an audited alarm.
    """
    issued = principals.enroll(installation.engine, request.code, clock=clock)
    return IssuedCredential(issued.principal_id, issued.name, issued.token)


def list_principals(
    installation: Installation,
    principal: PrincipalView,
    request: ListPrincipals,
    *,
    clock: Clock = utc_now,
) -> list[PrincipalInfo]:
    """Every principal by name (needs access:manage or audit:read)."""
    rows = principals.list_principals(installation.engine, principal.id, clock=clock)
    return [PrincipalInfo.of(r) for r in rows]


def disable_principal(
    installation: Installation,
    principal: PrincipalView,
    request: DisablePrincipal,
    *,
    clock: Clock = utc_now,
) -> PrincipalInfo:
    """Disable a principal (needs access:manage): its tokens and grants stop working at once."""
    done = principals.disable_principal(
        installation.engine, principal.id, request.name, request.reason, clock=clock
    )
    return PrincipalInfo.of(done)


def rotate_token(
    installation: Installation,
    principal: PrincipalView,
    request: RotateToken,
    *,
    clock: Clock = utc_now,
) -> IssuedCode:
    """Revoke a principal's tokens and issue an enrollment code for a new one (one's own, or
    with access:manage; someone else's suspends its grants that need approval)."""
    issued = principals.rotate_token(installation.engine, principal.id, request.name, clock=clock)
    return IssuedCode(
        issued.principal_id,
        issued.name,
        issued.code,
        issued.expires_at,
        suspended_grants=tuple(issued.suspended),
    )


def grant_access(
    installation: Installation,
    principal: PrincipalView,
    request: GrantAccess,
    *,
    clock: Clock = utc_now,
) -> GrantInfo:
    """Grant a role (needs access:manage in those countries); privileged roles stay pending."""
    grant = grants.grant_access(
        installation.engine,
        principal.id,
        request.principal,
        request.role,
        request.countries,
        request.expires,
        request.reason,
        clock=clock,
    )
    return GrantInfo.of(grant)


def approve_grant(
    installation: Installation,
    principal: PrincipalView,
    request: ApproveGrant,
    *,
    clock: Clock = utc_now,
) -> GrantInfo:
    """Approve a pending grant (needs access:approve; neither grantor nor grantee)."""
    grant = grants.approve_grant(installation.engine, principal.id, request.grant_id, clock=clock)
    return GrantInfo.of(grant)


def revoke_grant(
    installation: Installation,
    principal: PrincipalView,
    request: RevokeGrant,
    *,
    clock: Clock = utc_now,
) -> GrantInfo:
    """Revoke a grant at once (needs access:manage in its countries)."""
    grant = grants.revoke_grant(
        installation.engine, principal.id, request.grant_id, request.reason, clock=clock
    )
    return GrantInfo.of(grant)


def list_grants(
    installation: Installation,
    principal: PrincipalView,
    request: ListGrants,
    *,
    clock: Clock = utc_now,
) -> list[GrantInfo]:
    """Grants, newest first, with their grantee's name (needs a reader of access)."""
    rows = grants.list_grants(installation.engine, principal.id, request.principal, clock=clock)
    return [GrantInfo.of(g, name) for g, name in rows]


def check_access(
    installation: Installation,
    principal: PrincipalView,
    request: CheckAccess,
    *,
    clock: Clock = utc_now,
) -> AccessCheck:
    """Explain whether `request.principal` may use the permission now (needs a reader of access).

    A denial is an answer here, not an error: the caller decides what a DENIED means to it.
    """
    country = None if request.country is None else country_code(request.country, "--country")
    target, decision = grants.check_access(
        installation.engine,
        principal.id,
        request.principal,
        request.permission,
        country,
        clock=clock,
    )
    return AccessCheck(
        principal=target.name,
        permission=request.permission,
        country=country,
        allowed=decision.allowed,
        grant=decision.grant_id,
        reason=decision.reason,
    )


def review_access(
    installation: Installation,
    principal: PrincipalView,
    request: ReviewAccess,
    *,
    clock: Clock = utc_now,
) -> AccessReview:
    """What a periodic access review looks at (needs a reader of access)."""
    return access_review.review_access(installation.engine, principal.id, clock=clock)
