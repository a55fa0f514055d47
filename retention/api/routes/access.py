"""`/v1/access`: principals, their credentials, grants, approvals and the access review, for
admins, through `retention.operations` with the CLI's rules (`gdpr principal`, `gdpr access`).

The operations decide everything: who may create principals and grant roles (access:manage in
the countries concerned), that privileged and personal-data grants wait for a second approver who
is neither grantor, grantee nor the issuer of the grantee's credential, and what rotating someone
else's token suspends. Principals appear by UUID in paths and queries: a name may be an e-mail
address. A credential is in exactly one response, never logged or stored: the enrollment code of
a new or rotated principal (for the admin to hand over), and the token its person gets by
redeeming it at `POST /v1/access/enroll` (no bearer token: the code is the credential).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from retention.api.auth import PrincipalDep
from retention.api.listing import page_after
from retention.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from retention.api.problems import ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.operations import (
    AccessCheck,
    AccessReview,
    ApproveGrant,
    CheckAccess,
    CreatePrincipal,
    DisablePrincipal,
    Enroll,
    GrantAccess,
    GrantInfo,
    IssuedCode,
    ListGrants,
    ListPrincipals,
    PrincipalInfo,
    ReviewAccess,
    RevokeGrant,
    RotateToken,
    approve_grant,
    check_access,
    create_principal,
    disable_principal,
    enroll,
    grant_access,
    list_grants,
    list_principals,
    review_access,
    revoke_grant,
    rotate_token,
)

__all__ = ["router"]

router = APIRouter(prefix="/access", tags=["access"])

SECRET_HEADERS = {"Cache-Control": "no-store"}

Reason = Annotated[str, Field(min_length=1, max_length=1000, description="Why (audited).")]


# --- models -------------------------------------------------------------------------------------


class PrincipalOut(BaseModel):
    """A principal as listed: never a token or its hash."""

    id: uuid.UUID
    name: str
    kind: str
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, info: PrincipalInfo) -> Self:
        return cls(
            id=info.id,
            name=info.name,
            kind=info.kind,
            created_at=info.created_at,
            disabled_at=info.disabled_at,
        )


class EnrollmentCode(BaseModel):
    """A single-use enrollment code for the principal's person: shown in this response only."""

    id: uuid.UUID
    name: str
    kind: str | None = None
    enrollment_code: str
    expires_at: datetime
    suspended_grants: list[uuid.UUID] | None = Field(
        default=None, description="After a rotation: grants put back to pending approval"
    )

    @classmethod
    def of(cls, issued: IssuedCode) -> Self:
        return cls(
            id=issued.id,
            name=issued.name,
            kind=issued.kind,
            enrollment_code=issued.code,
            expires_at=issued.expires_at,
            suspended_grants=None
            if issued.suspended_grants is None
            else list(issued.suspended_grants),
        )


class Credential(BaseModel):
    """The principal's new token: shown in this response only; store it in a secret manager."""

    id: uuid.UUID
    name: str
    token: str


class GrantOut(BaseModel):
    id: uuid.UUID
    principal_id: uuid.UUID
    principal: str | None = Field(default=None, description="The grantee's name, in lists")
    role: str
    countries: str
    reason: str
    status: str = Field(description="pending, active, expired or revoked")
    created_at: datetime
    expires_at: datetime
    granted_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None
    revoke_reason: str | None

    @classmethod
    def of(cls, info: GrantInfo) -> Self:
        return cls.model_validate(info, from_attributes=True)


class AccessCheckOut(BaseModel):
    principal: str
    permission: str
    country: str | None
    allowed: bool
    grant: uuid.UUID | None
    reason: str

    @classmethod
    def of(cls, check: AccessCheck) -> Self:
        return cls.model_validate(check, from_attributes=True)


class ReviewedGrantOut(BaseModel):
    id: uuid.UUID
    principal: str
    role: str
    countries: str
    status: str
    expires_at: datetime
    granted_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    last_used_at: datetime | None


class ReviewedPrincipalOut(BaseModel):
    name: str
    credential_issued_by: list[str]
    grants: list[ReviewedGrantOut]
    flags: list[str]


class AccessReviewOut(BaseModel):
    """What a periodic access review looks at, in the sections of `gdpr access review`."""

    at: datetime
    expiring_within_14_days: list[ReviewedGrantOut]
    unused_for_30_days: list[ReviewedGrantOut]
    privileged: list[ReviewedGrantOut]
    pending_approval: list[ReviewedGrantOut]
    principals_without_grant: list[str]
    principals: list[ReviewedPrincipalOut]
    flags: list[str] = Field(description="Not three different people: grantor, approver, issuer")

    @classmethod
    def of(cls, review: AccessReview) -> Self:
        def grants(items: Any) -> list[ReviewedGrantOut]:
            return [ReviewedGrantOut.model_validate(g, from_attributes=True) for g in items]

        return cls(
            at=review.at,
            expiring_within_14_days=grants(review.expiring),
            unused_for_30_days=grants(review.unused),
            privileged=grants(review.privileged),
            pending_approval=grants(review.pending),
            principals_without_grant=list(review.principals_without_grant),
            principals=[
                ReviewedPrincipalOut(
                    name=p.name,
                    credential_issued_by=list(p.credential_issued_by),
                    grants=grants(p.grants),
                    flags=list(p.flags),
                )
                for p in review.principals
            ],
            flags=list(review.flags),
        )


class PrincipalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["human", "service"]


class PrincipalDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class EnrollmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200, description="The one-time enrollment code")


class GrantCreate(BaseModel):
    """`gdpr access grant`: a role in countries, for at most 365 days."""

    model_config = ConfigDict(extra="forbid")

    principal_id: uuid.UUID
    role: str = Field(min_length=1, max_length=32, description="recruiter, dpo, auditor, ...")
    countries: str = Field(
        min_length=1, max_length=200, description="Codes like RO,NL (UK for GB), or '*'"
    )
    expires: str = Field(
        min_length=1,
        max_length=32,
        description="A duration (30d, 4w, 6m; at most 365 days) or date",
    )
    reason: Reason


class GrantRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


# --- principals ---------------------------------------------------------------------------------

MANAGE = (ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND)


@router.post(
    "/principals",
    status_code=status.HTTP_201_CREATED,
    summary="Create a principal; returns its one-time enrollment code (access:manage)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.CONFLICT),
)
def post_principal(
    body: PrincipalCreate,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> EnrollmentCode:
    issued = create_principal(
        installation, principal, CreatePrincipal(body.name, body.kind), clock=clock
    )
    return EnrollmentCode.of(issued)


@router.get(
    "/principals",
    summary="Principals by name (access:manage or audit:read)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
)
def get_principals(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[PrincipalOut]:
    rows = list_principals(installation, principal, ListPrincipals(), clock=clock)
    return page_after([PrincipalOut.of(r) for r in rows], limit, cursor, lambda p: str(p.id))


@router.post(
    "/principals/{principal_id}/disable",
    summary="Disable a principal: its tokens and grants stop working at once (access:manage)",
    responses=problems(*MANAGE),
)
def post_disable(
    principal_id: uuid.UUID,
    body: PrincipalDisable,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> PrincipalOut:
    request = DisablePrincipal(str(principal_id), body.reason)
    return PrincipalOut.of(disable_principal(installation, principal, request, clock=clock))


@router.post(
    "/principals/{principal_id}/rotate-token",
    summary="Revoke a principal's tokens; returns a one-time enrollment code for a new one",
    responses=problems(*MANAGE),
)
def post_rotate(
    principal_id: uuid.UUID,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> EnrollmentCode:
    """One's own, or with access:manage; someone else's suspends its grants needing approval."""
    issued = rotate_token(installation, principal, RotateToken(str(principal_id)), clock=clock)
    return EnrollmentCode.of(issued)


@router.post(
    "/enroll",
    summary="Redeem an enrollment code for your own token (no bearer token; shown only now)",
    responses={
        **problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
    },
)
def post_enroll(body: EnrollmentIn, installation: InstallationDep, clock: ClockDep) -> Credential:
    """A code is single use and short-lived; a second redemption is an audited alarm."""
    issued = enroll(installation, Enroll(body.code), clock=clock)
    return Credential(id=issued.id, name=issued.name, token=issued.token)


# --- grants -------------------------------------------------------------------------------------


@router.post(
    "/grants",
    status_code=status.HTTP_201_CREATED,
    summary="Grant a role (access:manage); admin, dpo and personal-data roles stay pending",
    responses=problems(*MANAGE),
)
def post_grant(
    body: GrantCreate,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> GrantOut:
    request = GrantAccess(
        str(body.principal_id), body.role, body.countries, body.expires, body.reason
    )
    return GrantOut.of(grant_access(installation, principal, request, clock=clock))


@router.post(
    "/grants/{grant_id}/approve",
    summary="Approve a pending grant (access:approve; neither grantor, grantee nor issuer)",
    responses=problems(*MANAGE),
)
def post_approve(
    grant_id: uuid.UUID,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> GrantOut:
    return GrantOut.of(
        approve_grant(installation, principal, ApproveGrant(str(grant_id)), clock=clock)
    )


@router.post(
    "/grants/{grant_id}/revoke",
    summary="Revoke a grant at once (access:manage in its countries)",
    responses=problems(*MANAGE),
)
def post_revoke(
    grant_id: uuid.UUID,
    body: GrantRevoke,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> GrantOut:
    request = RevokeGrant(str(grant_id), body.reason)
    return GrantOut.of(revoke_grant(installation, principal, request, clock=clock))


@router.get(
    "/grants",
    summary="Grants, newest first, with their grantee's name (a reader of access)",
    responses=problems(*MANAGE),
)
def get_grants(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    principal_id: Annotated[uuid.UUID | None, Query(description="Only this principal's")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[GrantOut]:
    who = None if principal_id is None else str(principal_id)
    rows = list_grants(installation, principal, ListGrants(who), clock=clock)
    return page_after([GrantOut.of(g) for g in rows], limit, cursor, lambda g: str(g.id))


# --- checks and the review ----------------------------------------------------------------------


@router.get(
    "/check",
    summary="Whether a principal may use a permission now, and why (a reader of access)",
    responses=problems(*MANAGE),
)
def get_check(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    principal_id: Annotated[uuid.UUID, Query(description="Whose access")],
    permission: Annotated[
        str, Query(min_length=1, max_length=32, description="e.g. candidate:read")
    ],
    country: Annotated[
        str | None, Query(min_length=2, max_length=2, description="Omit for every country")
    ] = None,
) -> AccessCheckOut:
    """A denial is an answer here (`allowed: false`), not an error."""
    request = CheckAccess(str(principal_id), permission, country)
    return AccessCheckOut.of(check_access(installation, principal, request, clock=clock))


@router.get(
    "/review",
    summary="What a periodic access review looks at (a reader of access)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
)
def get_review(
    installation: InstallationDep, principal: PrincipalDep, clock: ClockDep
) -> AccessReviewOut:
    return AccessReviewOut.of(review_access(installation, principal, ReviewAccess(), clock=clock))
