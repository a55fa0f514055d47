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

from audit_log import Event, Outcome
from sqlalchemy import Connection, Engine, select

from retention.audit_trail import record
from retention.authorization import Decision, GrantView, PrincipalView, decide
from retention.db import transaction
from retention.errors import AccessDenied
from retention.permissions import Permission

__all__ = ["Refused", "deny", "guarded", "load_grants", "load_principal", "require"]

T = TypeVar("T")


class Refused(Exception):
    """Raised inside a guarded unit to deny; carries the audit event and the user's message."""

    def __init__(self, event: Event, message: str) -> None:
        super().__init__(message)
        self.event = event
        self.message = message


def deny(
    actor: UUID, action: str, reason: str, *, subject: UUID | None = None, **details: object
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
    return Refused(event, f"access denied: {reason}")


def guarded(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work` in one transaction; on `Refused`, undo it, commit the denial, raise."""
    with transaction(engine) as conn:
        savepoint = conn.begin_nested()
        try:
            result = work(conn)
        except Refused as refusal:
            savepoint.rollback()
            record(conn, refusal.event)
            denied = refusal
        else:
            savepoint.commit()
            return result
    raise AccessDenied(denied.message)


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
    principal = load_principal(conn, principal_id)
    if principal is None:
        decision = Decision(False, None, "unknown principal")
    else:
        decision = decide(principal, load_grants(conn, principal_id), permission, country, at)
    if not decision.allowed:
        event = Event(
            actor=str(principal_id),
            action=action,
            subject=subject,
            outcome=Outcome.DENIED,
            reason=decision.reason,
            details={"permission": permission.value, "country": country},
        )
        raise Refused(event, f"access denied: {permission} {_where(country)}: {decision.reason}")
    return decision


def _where(country: str | None) -> str:
    return "in every country" if country is None else f"in {country}"
