"""The guarded unit of work: authorize inside the transaction, act, audit, commit, or deny.

Every operation on personal data or on access itself runs as one `guarded` unit: the work runs in a
savepoint of one transaction, authorizes first (with the grants as they are at that instant) and
appends its own audit entry. A refusal rolls the savepoint back, so nothing the work did survives,
then appends the `denied` entry in the outer transaction, commits it, and only then raises
`AccessDenied`: a denial is always on the record and never leaves a change behind.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Connection, Engine, Select, bindparam, select

from audit_log import Event, Outcome
from retention.access.authorization import (
    ALL_COUNTRIES,
    Decision,
    GrantStatus,
    GrantView,
    PrincipalView,
    decide,
)
from retention.access.permissions import Permission, Role
from retention.errors import AccessDenied, EngineError
from retention.store import Grant, Principal, record, table_of, transaction

__all__ = [
    "Refused",
    "access_from_rows",
    "authorize",
    "check_permission",
    "deny",
    "guarded",
    "load_access",
    "require",
    "with_access",
]

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


@functools.cache
def _access_parts() -> tuple[tuple[Any, ...], Any, Any]:
    """Columns (labelled acc_*), FROM clause and principal-id column of the access load."""
    g = table_of(Grant).c
    p = table_of(Principal).c
    columns = (
        p.name.label("acc_name"),
        p.disabled_at.label("acc_disabled_at"),
        g.id.label("acc_grant"),
        g.role.label("acc_role"),
        g.countries.label("acc_countries"),
        g.status.label("acc_status"),
        g.expires_at.label("acc_expires_at"),
        g.revoked_at.label("acc_revoked_at"),
    )
    joined = table_of(Principal).outerjoin(table_of(Grant), g.principal_id == p.id)
    return columns, joined, p.id


@functools.cache
def _access_query() -> Select[Any]:
    # Built once: building a statement costs more than running it on a busy machine.
    columns, joined, principal_id = _access_parts()
    return select(*columns).select_from(joined).where(principal_id == bindparam("principal_id"))


def with_access(query: Select[Any], table: Any) -> Select[Any]:
    """`query` (one row of `table`) joined with the access columns of `:principal_id`.

    Lets a hot path fetch its subject and the caller's grants in one round trip; read the
    result with `access_from_rows`. No row comes back when either side is missing.
    """
    columns, joined, principal_id = _access_parts()
    on = principal_id == bindparam("principal_id")
    return query.add_columns(*columns).select_from(table.join(joined, on))


def access_from_rows(
    principal_id: UUID, rows: Sequence[Any]
) -> tuple[PrincipalView | None, list[GrantView]]:
    """The principal and its grants from rows carrying the acc_* columns."""
    if not rows:
        return None, []
    principal = PrincipalView(principal_id, rows[0].acc_name, rows[0].acc_disabled_at)
    views = [
        GrantView(
            id=r.acc_grant,
            principal_id=principal_id,
            role=Role(r.acc_role),
            countries=None
            if r.acc_countries == ALL_COUNTRIES
            else frozenset(r.acc_countries.split(",")),
            status=GrantStatus(r.acc_status),
            expires_at=r.acc_expires_at,
            revoked_at=r.acc_revoked_at,
        )
        for r in rows
        if r.acc_grant is not None
    ]
    return principal, views


def load_access(
    conn: Connection, principal_id: UUID
) -> tuple[PrincipalView | None, list[GrantView]]:
    """The principal and all its grants in one round trip (this runs on every operation)."""
    rows = conn.execute(_access_query(), {"principal_id": principal_id}).all()
    return access_from_rows(principal_id, rows)


def authorize(
    conn: Connection,
    principal_id: UUID,
    permission: Permission,
    country: str | None,
    at: datetime,
    access: tuple[PrincipalView | None, list[GrantView]] | None = None,
) -> Decision:
    """Decide from the database as this transaction sees it (principal and grants now).

    `access` is the principal and grants when the caller already loaded them in this
    transaction (`with_access`).
    """
    principal, views = access if access is not None else load_access(conn, principal_id)
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
    access: tuple[PrincipalView | None, list[GrantView]] | None = None,
) -> Decision:
    """Decide now, from the database as this transaction sees it; raise `Refused` on a denial."""
    decision = authorize(conn, principal_id, permission, country, at, access)
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


def check_permission(
    engine: Engine,
    principal_id: UUID,
    permission: Permission,
    *,
    action: str,
    country: str | None = None,
    at: datetime,
) -> Decision:
    """Authorize a command that is not about one subject (sweep:run, audit:read, ...).

    A denial is audited (outcome denied, `action`) and raised as `AccessDenied`; an allowed
    decision is returned for the caller to record `allowed_by` in its own entry.
    """
    return guarded(
        engine,
        lambda conn: require(conn, principal_id, permission, at=at, action=action, country=country),
        savepoint=False,
    )
