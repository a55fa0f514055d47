"""The periodic access review: what a reviewer must look at, computed from grants and the log.

Least privilege decays unless someone looks: grants about to expire (renew or let go), grants
nobody used for 30 days (take back), privileged grants and who approved them (four eyes held?),
grants still waiting for approval, and principals left without any grant (disable). "Used" comes
from the audit log: every allowed operation records the grant that allowed it.

Per principal it shows who issued its credential and who granted and approved each grant, and
flags any grant needing approval whose grantor, approver and credential issuer are not three
different people (the bootstrap grants of `gdpr init` among them, until replaced): the four-eyes
invariant as a reviewer can check it, rather than as the code claims it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, or_, select
from sqlmodel import col

from retention.access.authorization import ALL_COUNTRIES, GrantStatus
from retention.access.grants import require_access_reader
from retention.access.guard import guarded
from retention.access.permissions import PRIVILEGED_ROLES, Role, needs_approval
from retention.clock import Clock, utc_now
from retention.store import Enrollment, Grant, Principal, Token, last_grant_uses

__all__ = [
    "EXPIRY_WINDOW",
    "INSTALLATION",
    "UNUSED_AFTER",
    "AccessReview",
    "ReviewedGrant",
    "ReviewedPrincipal",
    "review_access",
]

# Who granted, and issued the credentials of, the bootstrap principals: the person running init.
INSTALLATION = "gdpr init"

EXPIRY_WINDOW = timedelta(days=14)
UNUSED_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class ReviewedGrant:
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


@dataclass(frozen=True)
class ReviewedPrincipal:
    """One enabled principal: who issued its working credentials, its grants, what is wrong."""

    name: str
    credential_issued_by: list[str]
    grants: list[ReviewedGrant]
    flags: list[str]


@dataclass(frozen=True)
class AccessReview:
    at: datetime
    expiring: list[ReviewedGrant]
    unused: list[ReviewedGrant]
    privileged: list[ReviewedGrant]
    pending: list[ReviewedGrant]
    principals_without_grant: list[str]
    principals: list[ReviewedPrincipal]

    @property
    def flags(self) -> list[str]:
        return [flag for p in self.principals for flag in p.flags]

    def to_json(self) -> dict[str, Any]:
        # The sections under the names reviewers' scripts read; each grant as its fields.
        return {
            "at": self.at,
            "expiring_within_14_days": list(self.expiring),
            "unused_for_30_days": list(self.unused),
            "privileged": list(self.privileged),
            "pending_approval": list(self.pending),
            "principals_without_grant": list(self.principals_without_grant),
            "principals": list(self.principals),
        }


def review_access(engine: Engine, actor: uuid.UUID, *, clock: Clock = utc_now) -> AccessReview:
    """Compute the review now (needs access:manage, access:approve or audit:read)."""

    def work(conn: Connection) -> AccessReview:
        at = clock()
        require_access_reader(conn, actor, at, "access.review")
        return _review(conn, at)

    return guarded(engine, work)


def _review(conn: Connection, at: datetime) -> AccessReview:
    names = {r.id: r.name for r in conn.execute(select(col(Principal.id), col(Principal.name)))}
    enabled = {
        r.id
        for r in conn.execute(select(col(Principal.id), col(Principal.disabled_at)))
        if r.disabled_at is None or r.disabled_at > at
    }
    live = [
        g
        for g in conn.execute(select(Grant).where(col(Grant.revoked_at).is_(None))).all()
        if g.expires_at > at and g.principal_id in enabled
    ]
    used = last_grant_uses(conn, at - UNUSED_AFTER)
    issuers = _credential_issuers(conn, at)

    def view(g: Any) -> ReviewedGrant:
        return ReviewedGrant(
            id=g.id,
            principal=names[g.principal_id],
            role=g.role,
            countries=g.countries,
            status=g.status,
            expires_at=g.expires_at,
            granted_by=names.get(g.granted_by) if g.granted_by else None,
            approved_by=names.get(g.approved_by) if g.approved_by else None,
            approved_at=g.approved_at,
            last_used_at=used.get(str(g.id)),
        )

    active = [g for g in live if g.status == GrantStatus.ACTIVE]
    in_force_since = {g.id: g.approved_at or g.created_at for g in active}
    return AccessReview(
        at=at,
        expiring=[view(g) for g in active if g.expires_at <= at + EXPIRY_WINDOW],
        # A grant younger than 30 days cannot have gone unused for 30 days.
        unused=[
            view(g)
            for g in active
            if str(g.id) not in used and in_force_since[g.id] <= at - UNUSED_AFTER
        ],
        privileged=[view(g) for g in live if Role(g.role) in PRIVILEGED_ROLES],
        pending=[view(g) for g in live if g.status == GrantStatus.PENDING],
        principals_without_grant=sorted(
            names[p] for p in enabled if p not in {g.principal_id for g in active}
        ),
        principals=[
            _principal(
                names[p], [g for g in live if g.principal_id == p], issuers.get(p, []), view, names
            )
            for p in sorted(enabled, key=lambda p: names[p])
        ],
    )


def _credential_issuers(conn: Connection, at: datetime) -> dict[uuid.UUID, list[uuid.UUID | None]]:
    """Per principal, the issuers of its working tokens and redeemable codes (None: init)."""
    found: dict[uuid.UUID, list[uuid.UUID | None]] = {}
    tokens = select(col(Token.principal_id), col(Token.issued_by)).where(
        or_(col(Token.revoked_at).is_(None), col(Token.revoked_at) > at)
    )
    codes = select(col(Enrollment.principal_id), col(Enrollment.issued_by)).where(
        col(Enrollment.redeemed_at).is_(None),
        col(Enrollment.expires_at) > at,
    )
    for row in [*conn.execute(tokens), *conn.execute(codes)]:
        issued = found.setdefault(row.principal_id, [])
        if row.issued_by not in issued:
            issued.append(row.issued_by)
    return found


def _principal(
    name: str,
    grants: list[Any],
    issuers: list[uuid.UUID | None],
    view: Any,
    names: dict[uuid.UUID, str],
) -> ReviewedPrincipal:
    reviewed = [view(g) for g in grants]
    issued_by = [INSTALLATION if i is None else names.get(i, str(i)) for i in issuers]
    flags = []
    for g, r in zip(grants, reviewed, strict=True):
        if g.status != GrantStatus.ACTIVE or not needs_approval(
            Role(g.role), g.countries == ALL_COUNTRIES
        ):
            continue
        parties = [r.granted_by or INSTALLATION, r.approved_by, *issued_by]
        if r.approved_by is None or len(set(parties)) < len(parties):
            flags.append(
                f"{name}: grant {g.id} ({g.role} {g.countries}) granted by "
                f"{r.granted_by or INSTALLATION}, approved by {r.approved_by or 'nobody'}, "
                f"credential issued by {', '.join(issued_by) or 'nobody'}: "
                "not three different people"
            )
    return ReviewedPrincipal(name, issued_by, reviewed, flags)
