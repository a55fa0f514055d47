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
from retention.authorization import Decision, GrantView, PrincipalView, decide
from retention.db import transaction
from retention.errors import AccessDenied, EngineError
from retention.permissions import Permission

__all__ = ["Refused", "authorize", "deny", "guarded", "load_grants", "load_principal", "require"]

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


def guarded(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work` in one transaction; on `Refused`, undo it, commit the denial, raise."""
    with transaction(engine) as conn:
        savepoint = conn.begin_nested()
        try:
            result = work(conn)
        except Refused as refusal:
            savepoint.rollback()
            record(conn, refusal.event, at=refusal.event_at)
            stopped = refusal
        else:
            savepoint.commit()
            return result
    raise stopped.error


def load_principal(conn: Connection, principal_id: UUID) -> PrincipalView | None:
    from retention.principals import Principal

    row = conn.execute(
        select(Principal.id, Principal.name, Principal.disabled_at).where(
            Principal.id == principal_id
        )
    ).first()
    return None if row is None else PrincipalView(row.id, row.name, row.disabled_at)


def load_grants(conn: Connection, principal_id: UUID) -> list[GrantView]:
    from retention.grants import Grant, grant_view

    rows = conn.execute(select(Grant).where(Grant.principal_id == principal_id)).all()
    return [grant_view(r) for r in rows]


def authorize(
    conn: Connection,
    principal_id: UUID,
    permission: Permission,
    country: str | None,
    at: datetime,
) -> Decision:
    """Decide from the database as this transaction sees it (principal and grants now)."""
    principal = load_principal(conn, principal_id)
    if principal is None:
        return Decision(False, None, "unknown principal")
    return decide(principal, load_grants(conn, principal_id), permission, country, at)


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
