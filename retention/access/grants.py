"""Grants: one role for one principal, in a set of countries, for a reason, until an expiry.

Least privilege in time and place: every grant expires (at most 365 days out), carries a reason,
and names its countries (or `*`). Nobody grants to themselves, and every grant that reaches
personal data, hands out or approves access, or covers every country (`needs_approval`) stays
pending until a second person with access:approve approves it: one who is neither the grantor,
nor the grantee, nor the issuer of a credential of the grantee (who may hold it). Four eyes, so
that no one principal, nor anyone holding credentials it issued, reaches personal data alone.
Grant, approve and revoke are audited in the transaction that makes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlmodel import col

from audit_log import Event
from retention.access.authorization import ALL_COUNTRIES, Decision, GrantStatus, GrantView, decide
from retention.access.guard import Refused, deny, guarded, load_access, require
from retention.access.permissions import (
    Permission,
    Role,
    needs_approval,
    parse_permission,
    parse_role,
)
from retention.access.principals import credential_issuers, find_principal
from retention.clock import Clock, utc_now
from retention.countries import country_code
from retention.durations import resolve_expiry
from retention.errors import BadInput, NotFound
from retention.store import Grant, Principal, check_reason, record, table_of

__all__ = [
    "MAX_GRANT_DAYS",
    "approve_grant",
    "check_access",
    "effective_status",
    "grant_access",
    "grant_view",
    "insert_grant",
    "list_grants",
    "parse_countries",
    "revoke_grant",
]

MAX_GRANT_DAYS = 365
_MAX_COUNTRIES = 100
_COUNTRIES_HINT = "--country must be '*' or ISO 3166-1 alpha-2 codes the engine covers, like RO,NL"


def grant_view(row: Any) -> GrantView:
    """The decision's view of a grant row (ORM object or Core row)."""
    countries = row.countries
    return GrantView(
        id=row.id,
        principal_id=row.principal_id,
        role=Role(row.role),
        countries=None if countries == ALL_COUNTRIES else frozenset(countries.split(",")),
        status=GrantStatus(row.status),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def parse_countries(text: str) -> frozenset[str] | None:
    """`*` (None: every country) or a comma-separated list of covered country codes.

    Each code goes through `country_code`, the one country check (aliases such as UK become
    GB), so a grant never names a country that no subject can have.
    """
    text = text.strip()
    if text == ALL_COUNTRIES:
        return None
    parts = text.split(",")
    if len(parts) > _MAX_COUNTRIES:
        raise BadInput(_COUNTRIES_HINT)
    codes = set()
    for part in parts:
        try:
            codes.add(country_code(part, "--country"))
        except BadInput:
            raise BadInput(f"{_COUNTRIES_HINT}: '{part.strip()[:20]}' is not one") from None
    return frozenset(codes)


def countries_text(countries: frozenset[str] | None) -> str:
    return ALL_COUNTRIES if countries is None else ",".join(sorted(countries))


def _require_everywhere(
    conn: Connection,
    actor: uuid.UUID,
    permission: Permission,
    countries: frozenset[str] | None,
    at: datetime,
    action: str,
) -> str:
    """Require `permission` in every one of `countries`; returns the grant id that allowed it."""
    # Handing out (or approving) access to a country needs that power in that country.
    allowed_by = ""
    for country in [None] if countries is None else sorted(countries):
        decision = require(conn, actor, permission, at=at, action=action, country=country)
        allowed_by = allowed_by or str(decision.grant_id)
    return allowed_by


def insert_grant(
    conn: Connection,
    principal_id: uuid.UUID,
    role: Role,
    countries: frozenset[str] | None,
    *,
    reason: str,
    at: datetime,
    expires_at: datetime,
    granted_by: uuid.UUID | None,
    status: GrantStatus,
) -> uuid.UUID:
    grant_id = uuid.uuid4()
    conn.execute(
        table_of(Grant)
        .insert()
        .values(
            id=grant_id,
            principal_id=principal_id,
            role=role.value,
            countries=countries_text(countries),
            reason=reason,
            status=status.value,
            created_at=at,
            expires_at=expires_at,
            granted_by=granted_by,
        )
    )
    return grant_id


def grant_access(
    engine: Engine,
    actor: uuid.UUID,
    principal: str,
    role: str,
    countries: str,
    expires: str,
    reason: str,
    *,
    clock: Clock = utc_now,
) -> Grant:
    """Give `role` to `principal` (needs access:manage in those countries); audited.

    Grants that need approval (`needs_approval`) stay pending until a second person approves.
    """
    the_role = parse_role(role)
    scope = parse_countries(countries)
    check_reason(reason)

    def work(conn: Connection) -> Grant:
        at = clock()
        expires_at = resolve_expiry(expires, at)
        if expires_at <= at:
            raise BadInput("--expires is in the past: a grant must end in the future")
        if expires_at > at + timedelta(days=MAX_GRANT_DAYS):
            raise BadInput(f"--expires is more than {MAX_GRANT_DAYS} days away: grant for less")
        allowed_by = _require_everywhere(
            conn, actor, Permission.ACCESS_MANAGE, scope, at, "access.grant"
        )
        grantee = find_principal(conn, principal)
        if grantee.id == actor:
            raise deny(
                actor, "access.grant", "nobody grants to themselves; ask another admin", at=at
            )
        if grantee.disabled_at is not None:
            raise BadInput(f"principal {grantee.id} is disabled")
        pending = needs_approval(the_role, scope is None)
        status = GrantStatus.PENDING if pending else GrantStatus.ACTIVE
        grant_id = insert_grant(
            conn,
            grantee.id,
            the_role,
            scope,
            reason=reason,
            at=at,
            expires_at=expires_at,
            granted_by=actor,
            status=status,
        )
        record(
            conn,
            Event(
                actor=str(actor),
                action="access.grant",
                reason=reason,
                details={
                    "grant": str(grant_id),
                    "principal": str(grantee.id),
                    "role": the_role.value,
                    "countries": countries_text(scope),
                    "expires_at": expires_at,
                    "status": status.value,
                    "allowed_by": allowed_by,
                },
            ),
            at=at,
        )
        return _get(conn, grant_id)

    return guarded(engine, work)


def approve_grant(
    engine: Engine, actor: uuid.UUID, grant_id: str, *, clock: Clock = utc_now
) -> Grant:
    """Approve a pending grant (needs access:approve; four eyes).

    The approver is neither the grantee, nor the grantor, nor the issuer of a credential of the
    grantee that works or can still be redeemed (whoever issued it may hold it).
    """
    key = _grant_id(grant_id)

    def work(conn: Connection) -> Grant:
        at = clock()
        grant = _get(conn, key)
        view = grant_view(grant)
        allowed_by = _require_everywhere(
            conn, actor, Permission.ACCESS_APPROVE, view.countries, at, "access.approve"
        )
        if actor in (grant.principal_id, grant.granted_by):
            raise deny(
                actor,
                "access.approve",
                "four eyes: neither grantor nor grantee may approve a grant",
                at=at,
                grant=str(key),
            )
        if actor in credential_issuers(conn, grant.principal_id, at):
            raise deny(
                actor,
                "access.approve",
                "four eyes: whoever issued the grantee's credential may not approve its grants",
                at=at,
                grant=str(key),
            )
        if grant.revoked_at is not None:
            raise BadInput(f"grant {key} was revoked; it cannot be approved")
        if grant.expires_at <= at:
            raise BadInput(f"grant {key} has expired; grant anew")
        if grant.status != GrantStatus.PENDING:
            raise BadInput(f"grant {key} is not pending approval")
        conn.execute(
            update(Grant)
            .where(col(Grant.id) == key)
            .values(status=GrantStatus.ACTIVE.value, approved_by=actor, approved_at=at)
        )
        record(
            conn,
            Event(
                actor=str(actor),
                action="access.approve",
                details={
                    "grant": str(key),
                    "principal": str(grant.principal_id),
                    "role": grant.role,
                    "allowed_by": allowed_by,
                },
            ),
            at=at,
        )
        return _get(conn, key)

    return guarded(engine, work)


def revoke_grant(
    engine: Engine, actor: uuid.UUID, grant_id: str, reason: str, *, clock: Clock = utc_now
) -> Grant:
    """Revoke a grant at once (needs access:manage in its countries); audited with the reason."""
    key = _grant_id(grant_id)
    check_reason(reason)

    def work(conn: Connection) -> Grant:
        at = clock()
        grant = _get(conn, key)
        allowed_by = _require_everywhere(
            conn, actor, Permission.ACCESS_MANAGE, grant_view(grant).countries, at, "access.revoke"
        )
        if grant.revoked_at is not None:
            raise BadInput(f"grant {key} is already revoked")
        conn.execute(
            update(Grant)
            .where(col(Grant.id) == key)
            .values(revoked_at=at, revoked_by=actor, revoke_reason=reason)
        )
        record(
            conn,
            Event(
                actor=str(actor),
                action="access.revoke",
                reason=reason,
                details={
                    "grant": str(key),
                    "principal": str(grant.principal_id),
                    "role": grant.role,
                    "allowed_by": allowed_by,
                },
            ),
            at=at,
        )
        return _get(conn, key)

    return guarded(engine, work)


def require_access_reader(conn: Connection, actor: uuid.UUID, at: datetime, action: str) -> None:
    """Reading who may do what needs access:manage, access:approve or audit:read."""
    for permission in (Permission.ACCESS_MANAGE, Permission.ACCESS_APPROVE):
        try:
            require(conn, actor, permission, at=at, action=action)
            return
        except Refused:
            continue
    require(conn, actor, Permission.AUDIT_READ, at=at, action=action)


def list_grants(
    engine: Engine, actor: uuid.UUID, principal: str | None = None, *, clock: Clock = utc_now
) -> list[tuple[Grant, str]]:
    """Grants (of one principal, or all) with their grantee's name, newest first.

    Each grant's `status` is its effective status now (`effective_status`), not the stored one.
    """

    def work(conn: Connection) -> list[tuple[Grant, str]]:
        at = clock()
        require_access_reader(conn, actor, at, "access.list")
        query = select(Grant, col(Principal.name)).join(
            Principal, col(Principal.id) == Grant.principal_id
        )
        if principal is not None:
            query = query.where(col(Grant.principal_id) == find_principal(conn, principal).id)
        rows = conn.execute(query.order_by(col(Grant.created_at).desc(), col(Grant.id))).all()
        listed = [(_model(r._mapping), r.name) for r in rows]
        return [(g.model_copy(update={"status": effective_status(g, at)}), n) for g, n in listed]

    return guarded(engine, work)


def effective_status(grant: Grant, at: datetime) -> str:
    """What a grant gives at `at`: revoked and expired win over the stored pending/active."""
    if grant.revoked_at is not None and grant.revoked_at <= at:
        return "revoked"
    if grant.expires_at <= at:
        return "expired"
    return grant.status


def check_access(
    engine: Engine,
    actor: uuid.UUID,
    principal: str,
    permission: str,
    country: str | None,
    *,
    clock: Clock = utc_now,
) -> tuple[Principal, Decision]:
    """Explain whether `principal` may use `permission` (in `country`) now, and why."""
    the_permission = parse_permission(permission)
    where = None if country is None else country_code(country, "--country")

    def work(conn: Connection) -> tuple[Principal, Decision]:
        at = clock()
        require_access_reader(conn, actor, at, "access.check")
        target = find_principal(conn, principal)
        view, views = load_access(conn, target.id)
        assert view is not None
        return target, decide(view, views, the_permission, where, at)

    return guarded(engine, work)


def _grant_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadInput("GRANT_ID must be a UUID (see 'gdpr access list')") from None


def _model(mapping: Any) -> Grant:
    return Grant.model_validate({c: mapping[c] for c in Grant.model_fields})


def _get(conn: Connection, key: uuid.UUID) -> Grant:
    row = conn.execute(select(Grant).where(col(Grant.id) == key)).first()
    if row is None:
        raise NotFound(f"no grant {key}")
    return _model(row._mapping)


def active_grants_of(grants: Sequence[GrantView], at: datetime) -> list[GrantView]:
    return [
        g
        for g in grants
        if g.status is GrantStatus.ACTIVE and g.revoked_at is None and g.expires_at > at
    ]
