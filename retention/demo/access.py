"""The access part of `gdpr demo`: a country-scoped recruiter, one read allowed, one denied.

Shows least privilege and four eyes working end to end on a seeded installation: the admin
creates a recruiter (getting only an enrollment code, which the recruiter redeems for its own
token), grants it one country for a week (pending), the DPO approves, and the recruiter reads a
candidate of that country (allowed) and one of another country (denied); every step lands in the
audit log. Returns the lines to print; personal data and secrets are never printed, subjects are
named by UUID.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import col

from retention.access import grants, principals
from retention.clock import Clock, utc_now
from retention.errors import AccessDenied, BadInput
from retention.install import Installation
from retention.store import Candidate
from retention.subjects import Gateway

__all__ = ["AccessDemo", "run_access_demo"]


@dataclass(frozen=True)
class AccessDemo:
    recruiter: uuid.UUID
    grant: uuid.UUID
    country: str
    allowed_subject: uuid.UUID
    denied_subject: uuid.UUID
    lines: list[str]


def run_access_demo(
    installation: Installation,
    admin: uuid.UUID,
    approver: uuid.UUID,
    *,
    country: str | None = None,
    name: str = "demo-recruiter",
    clock: Clock = utc_now,
) -> AccessDemo:
    """Create `name` scoped to `country` (default: the first candidate's), read in and out.

    `admin` is a principal holding access:manage (the bootstrap admin), `approver` a second one
    holding access:approve (the bootstrap DPO). Needs at least one candidate in `country` and
    one elsewhere.
    """
    engine = installation.engine
    with engine.connect() as conn:
        rows = conn.execute(
            select(col(Candidate.id), col(Candidate.country))
            .where(col(Candidate.blocked_at).is_(None))
            .order_by(col(Candidate.country), col(Candidate.id))
        ).all()
    home = country or (rows[0].country if rows else None)
    inside = next((r.id for r in rows if r.country == home), None)
    outside = next((r for r in rows if r.country != home), None)
    if home is None or inside is None or outside is None:
        raise BadInput("the access demo needs candidates in two countries: seed them first")
    created = principals.create_principal(engine, admin, name, "human", clock=clock)
    # In real use the code travels to the person, who runs `gdpr principal enroll`.
    recruiter = principals.enroll(engine, created.code, clock=clock)
    grant = grants.grant_access(
        engine, admin, name, "recruiter", home, "7d", "demo: least privilege", clock=clock
    )
    pending = grant.status
    grant = grants.approve_grant(engine, approver, str(grant.id), clock=clock)
    gateway = Gateway(engine, recruiter.principal_id, installation.config.documents_dir, clock)
    lines = [
        f"Access: recruiter {name} ({recruiter.principal_id}) enrolled with a one-time code "
        "(the admin never saw its token);",
        f"  granted {home} for 7 days (grant {grant.id}): {pending} until a second person "
        "approved it.",
    ]
    gateway.show(inside, reason="demo")
    lines.append(f"  read candidate {inside} ({home}): allowed, audited")
    try:
        gateway.show(outside.id, reason="demo")
    except AccessDenied as denied:
        lines.append(f"  read candidate {outside.id} ({outside.country}): {denied.message}")
    else:  # pragma: no cover - would mean country scoping is broken
        raise AssertionError("a recruiter read outside its country")
    return AccessDemo(recruiter.principal_id, grant.id, home, inside, outside.id, lines)
