"""Permissions and the built-in roles that bundle them: the vocabulary of access control.

A closed set of permissions (what an operation needs) and six roles (what a grant gives). They are
built in rather than configurable on purpose: a reviewer reads one table to know what a role can
do, and "admin cannot read personal data" is a fact of the code, not of a configuration file.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from retention.errors import BadInput

__all__ = [
    "APPROVAL_ROLES",
    "PERSONAL_DATA_PERMISSIONS",
    "PRIVILEGED_ROLES",
    "ROLE_PERMISSIONS",
    "Permission",
    "Role",
    "needs_approval",
    "parse_permission",
    "parse_role",
]


class Permission(StrEnum):
    CANDIDATE_READ = "candidate:read"
    CANDIDATE_WRITE = "candidate:write"
    CANDIDATE_EXPORT = "candidate:export"
    CANDIDATE_ERASE = "candidate:erase"
    CONSENT_WRITE = "consent:write"
    # Run renewal campaigns: the engine reads addresses to send to, the principal never sees them.
    CONSENT_CAMPAIGN = "consent:campaign"
    HOLD_MANAGE = "hold:manage"
    SWEEP_PLAN = "sweep:plan"
    SWEEP_RUN = "sweep:run"
    AUDIT_READ = "audit:read"
    AUDIT_VERIFY = "audit:verify"
    EVIDENCE_EXPORT = "evidence:export"
    POLICY_MANAGE = "policy:manage"
    ACCESS_MANAGE = "access:manage"
    ACCESS_APPROVE = "access:approve"
    REQUEST_MANAGE = "request:manage"  # the register of data-subject requests (Art. 15-21)


class Role(StrEnum):
    RECRUITER = "recruiter"
    DPO = "dpo"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SCHEDULER = "scheduler"
    INTEGRATION = "integration"


P = Permission

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.RECRUITER: frozenset({P.CANDIDATE_READ, P.CANDIDATE_WRITE, P.CONSENT_WRITE}),
        Role.DPO: frozenset(
            {
                P.CANDIDATE_READ,
                P.CANDIDATE_WRITE,
                P.CANDIDATE_EXPORT,
                P.CANDIDATE_ERASE,
                P.CONSENT_WRITE,
                P.CONSENT_CAMPAIGN,
                P.HOLD_MANAGE,
                P.SWEEP_PLAN,
                P.SWEEP_RUN,
                P.AUDIT_READ,
                P.AUDIT_VERIFY,
                P.EVIDENCE_EXPORT,
                P.POLICY_MANAGE,
                P.ACCESS_APPROVE,
                P.REQUEST_MANAGE,
            }
        ),
        # No personal data: an auditor checks the log and the evidence, never the records.
        Role.AUDITOR: frozenset({P.AUDIT_READ, P.AUDIT_VERIFY, P.EVIDENCE_EXPORT, P.SWEEP_PLAN}),
        # Separation of duties: whoever hands out access cannot read what it protects.
        Role.ADMIN: frozenset({P.ACCESS_MANAGE, P.AUDIT_VERIFY}),
        Role.SCHEDULER: frozenset({P.SWEEP_PLAN, P.SWEEP_RUN, P.AUDIT_VERIFY, P.CONSENT_CAMPAIGN}),
        Role.INTEGRATION: frozenset({P.CANDIDATE_WRITE, P.CONSENT_WRITE}),
    }
)

# The roles that hand out access or approve it: listed apart in the access review.
PRIVILEGED_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.DPO})

# What reaches personal data: reading, changing, exporting or erasing a subject, or its consents,
# and the request register (it holds the requester's contact and identity check).
PERSONAL_DATA_PERMISSIONS: frozenset[Permission] = frozenset(
    {
        P.CANDIDATE_READ,
        P.CANDIDATE_WRITE,
        P.CANDIDATE_EXPORT,
        P.CANDIDATE_ERASE,
        P.CONSENT_WRITE,
        P.REQUEST_MANAGE,
    }
)

# Grants of these roles (in any country), and grants of any role in every country, stay pending
# until a second principal approves them: neither grantor, grantee, nor the issuer of the
# grantee's credential. So no one principal can give itself, or a credential it holds, a way in.
APPROVAL_ROLES: frozenset[Role] = frozenset(
    role
    for role, permissions in ROLE_PERMISSIONS.items()
    if role in PRIVILEGED_ROLES or permissions & PERSONAL_DATA_PERMISSIONS
)


def needs_approval(role: Role, every_country: bool) -> bool:
    """Whether a grant of `role` (in every country, or not) waits for a second person."""
    return every_country or role in APPROVAL_ROLES


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise BadInput(
            f"unknown role (choose one of: {', '.join(r.value for r in Role)})"
        ) from None


def parse_permission(text: str) -> Permission:
    try:
        return Permission(text)
    except ValueError:
        raise BadInput(
            f"unknown permission (choose one of: {', '.join(p.value for p in Permission)})"
        ) from None
