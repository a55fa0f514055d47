"""The guarded unit of work: authorize inside the transaction, act, audit, commit, or deny.

Every operation on personal data or on access itself runs as one `guarded` unit: the work runs in a
savepoint of one transaction, authorizes first (with the grants as they are at that instant) and
appends its own audit entry. A refusal rolls the savepoint back, so nothing the work did survives,
then appends the `denied` entry in the outer transaction, commits it, and only then raises
`AccessDenied`: a denial is always on the record and never leaves a change behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy import Connection, Engine, select

from audit_log import Event, Outcome
from retention.audit_trail import record
from retention.authorization import (
    ALL_COUNTRIES,
    Decision,
    GrantStatus,
    GrantView,
    PrincipalView,
    decide,
)
from retention.db import transaction
from retention.errors import AccessDenied, EngineError
from retention.permissions import Permission, Role

__all__ = ["Refused", "authorize", "deny", "guarded", "load_access", "require"]

T = TypeVar("T")


class Refused(Exception):
    """Raised inside a guarded unit to stop it: its event is committed, then `error` is raised.

    Used for denials (`AccessDenied`) and for attempts on a subject that must stay on the record
    even though they fail (an unknown subject id: `NotFound`).
    """

    def __init__(self, event: Event, error: EngineError) -> None:
        super().__init__(error.message)
        self.event = event
        self.error = error
        self.message = error.message
        self.event_at: datetime | None = None


def deny(
    actor: UUID,
    action: str,
    reason: str,
    *,
    at: datetime | None = None,
    subject: UUID | None = None,
    **details: object,
) -> Refused:
    """A refusal for a rule other than a missing grant (four eyes, self-grant, blocked subject)."""
    event = Event(
        actor=str(actor),
        action=action,
        subject=subject,
        outcome=Outcome.DENIED,
        reason=reason,
        details=details,
    )
    refusal = Refused(event, AccessDenied(f"access denied: {reason}"))
    refusal.event_at = at
    return refusal


def guarded(engine: Engine, work: Callable[[Connection], T], *, savepoint: bool = True) -> T:
    """Run `work` in one transaction; on `Refused`, undo it, commit the denial, raise.

    `savepoint=False` is for work that refuses only before its first write (the gateway
    authorizes and checks before acting): it saves two statements on every operation.
    """
    with transaction(engine) as conn:
        nested = conn.begin_nested() if savepoint else None
        try:
            result = work(conn)
        except Refused as refusal:
            if nested is not None:
                nested.rollback()
            record(conn, refusal.event, at=refusal.event_at)
            stopped = refusal
        else:
            if nested is not None:
                nested.commit()
            return result
    raise stopped.error


def load_access(
    conn: Connection, principal_id: UUID
) -> tuple[PrincipalView | None, list[GrantView]]:
    """The principal and all its grants in one round trip (this runs on every operation)."""
    from retention.grants import Grant
    from retention.principals import Principal

    g = Grant.__table__.c  # type: ignore[attr-defined]
    p = Principal.__table__.c  # type: ignore[attr-defined]
    rows = conn.execute(
        select(
            p.name, p.disabled_at, g.id, g.role, g.countries, g.status, g.expires_at, g.revoked_at
        )
        .select_from(Principal.__table__.outerjoin(Grant.__table__, g.principal_id == p.id))  # type: ignore[attr-defined]
        .where(p.id == principal_id)
    ).all()
    if not rows:
        return None, []
    principal = PrincipalView(principal_id, rows[0].name, rows[0].disabled_at)
    views = [
        GrantView(
            id=r.id,
            principal_id=principal_id,
            role=Role(r.role),
            countries=None if r.countries == ALL_COUNTRIES else frozenset(r.countries.split(",")),
            status=GrantStatus(r.status),
            expires_at=r.expires_at,
            revoked_at=r.revoked_at,
        )
        for r in rows
        if r.id is not None
    ]
    return principal, views


def authorize(
    conn: Connection,
    principal_id: UUID,
    permission: Permission,
    country: str | None,
    at: datetime,
) -> Decision:
    """Decide from the database as this transaction sees it (principal and grants now)."""
    principal, views = load_access(conn, principal_id)
    if principal is None:
        return Decision(False, None, "unknown principal")
    return decide(principal, views, permission, country, at)


def require(
    conn: Connection,
    principal_id: UUID,
    permission: Permission,
    *,
    at: datetime,
    action: str,
    country: str | None = None,
    subject: UUID | None = None,
) -> Decision:
    """Decide now, from the database as this transaction sees it; raise `Refused` on a denial."""
    decision = authorize(conn, principal_id, permission, country, at)
    if not decision.allowed:
        event = Event(
            actor=str(principal_id),
            action=action,
            subject=subject,
            outcome=Outcome.DENIED,
            reason=decision.reason,
            details={"permission": permission.value, "country": country},
        )
        where = f"on subject {subject}" if subject is not None else _where(country)
        refusal = Refused(
            event, AccessDenied(f"access denied: {permission} {where}: {decision.reason}")
        )
        refusal.event_at = at
        raise refusal
    return decision


def _where(country: str | None) -> str:
    return "in every country" if country is None else f"in {country}"
