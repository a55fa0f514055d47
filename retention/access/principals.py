"""Principals (people and services) and their bearer tokens; authentication.

A token is `gdpr_` followed by 32 random bytes in URL-safe base64; only its SHA-256 is stored, so a
copy of the database gives nobody a way in. A lookup by hash, confirmed with a constant-time
comparison, finds the principal. Every failed authentication is audited (actor "anonymous" or the
principal's id, never any part of the token), and every change to a principal is audited with it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select, update
from sqlmodel import col

from audit_log import Event, Outcome
from retention.access.authorization import PrincipalView
from retention.access.guard import Refused, guarded, require
from retention.access.permissions import Permission
from retention.clock import Clock, utc_now
from retention.errors import AccessDenied, BadInput, NotFound
from retention.store import (
    ANONYMOUS,
    Principal,
    PrincipalKind,
    Token,
    check_reason,
    record,
    table_of,
    transaction,
)

__all__ = [
    "TOKEN_PREFIX",
    "IssuedToken",
    "authenticate",
    "create_principal",
    "disable_principal",
    "find_principal",
    "find_principal_by_name",
    "hash_token",
    "list_principals",
    "new_token",
    "rotate_token",
]

TOKEN_PREFIX = "gdpr_"  # noqa: S105  (a prefix that makes leaked tokens recognizable)
TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"gdpr_[A-Za-z0-9_-]{43}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class IssuedToken:
    """A principal and its new token: the only moment the token's text exists outside a hash."""

    principal_id: uuid.UUID
    name: str
    token: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise BadInput(
            "principal name must be 1-64 characters: letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    return name


def find_principal(conn: Connection, name_or_id: str) -> Principal:
    """The principal with that name or UUID, or `NotFound`."""
    try:
        key = uuid.UUID(name_or_id)
        clause = col(Principal.id) == key
    except ValueError:
        clause = col(Principal.name) == check_name(name_or_id)
    row = conn.execute(select(Principal).where(clause)).first()
    if row is None:
        raise NotFound("no such principal")
    return Principal.model_validate(row._mapping)


def find_principal_by_name(engine: Engine, name: str) -> uuid.UUID:
    """The id of the principal called `name` (for scripts and tests; no authorization needed)."""
    with engine.connect() as conn:
        return find_principal(conn, name).id


def insert_principal(conn: Connection, name: str, kind: PrincipalKind, at: datetime) -> IssuedToken:
    """Create a principal with a first token; the caller audits and commits."""
    check_name(name)
    if (
        conn.execute(select(col(Principal.id)).where(col(Principal.name) == name)).first()
        is not None
    ):
        raise BadInput(f"a principal named '{name}' already exists")
    principal_id = uuid.uuid4()
    conn.execute(
        table_of(Principal)
        .insert()
        .values(id=principal_id, name=name, kind=kind.value, created_at=at)
    )
    token = new_token()
    conn.execute(
        table_of(Token)
        .insert()
        .values(
            id=uuid.uuid4(), principal_id=principal_id, token_hash=hash_token(token), created_at=at
        )
    )
    return IssuedToken(principal_id, name, token)


def authenticate(engine: Engine, token: str | None, *, clock: Clock = utc_now) -> PrincipalView:
    """The principal a token belongs to; a failure is audited, then raised.

    Missing or malformed tokens are bad usage (`BadInput`, exit 2); unknown or revoked tokens and
    disabled principals are denials (`AccessDenied`, exit 1).
    """
    at = clock()
    if not token:
        _audit_failure(engine, ANONYMOUS, "no token", at)
        raise BadInput("no token: set GDPR_TOKEN or pass --token-file")
    token = token.strip()
    if not _TOKEN_RE.fullmatch(token):
        _audit_failure(engine, ANONYMOUS, "malformed token", at)
        raise BadInput(f"malformed token: expected '{TOKEN_PREFIX}' followed by 43 characters")
    digest = hash_token(token)
    with transaction(engine) as conn:
        row = conn.execute(
            select(
                col(Token.token_hash),
                col(Token.revoked_at),
                col(Principal.id),
                col(Principal.name),
                col(Principal.disabled_at),
            )
            .join(Principal, col(Principal.id) == Token.principal_id)
            .where(col(Token.token_hash) == digest)
        ).first()
        failure: str | None = None
        actor = ANONYMOUS
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            failure = "unknown token"
        else:
            actor = str(row.id)
            if row.revoked_at is not None and row.revoked_at <= at:
                failure = "revoked token"
            elif row.disabled_at is not None and row.disabled_at <= at:
                failure = "disabled principal"
        if failure is not None:
            record(conn, _failure_event(actor, failure))
    if failure is not None:
        raise AccessDenied(f"authentication failed: {failure}")
    assert row is not None
    return PrincipalView(row.id, row.name, row.disabled_at)


def _failure_event(actor: str, reason: str) -> Event:
    return Event(actor=actor, action="auth.failed", outcome=Outcome.DENIED, reason=reason)


def _audit_failure(engine: Engine, actor: str, reason: str, at: datetime) -> None:
    with transaction(engine) as conn:
        record(conn, _failure_event(actor, reason))


def create_principal(
    engine: Engine, actor: uuid.UUID, name: str, kind: str, *, clock: Clock = utc_now
) -> IssuedToken:
    """Create a principal (needs access:manage); returns its first token, shown once."""
    principal_kind = _kind(kind)
    check_name(name)

    def work(conn: Connection) -> IssuedToken:
        at = clock()
        allowed = require(conn, actor, Permission.ACCESS_MANAGE, at=at, action="principal.create")
        issued = insert_principal(conn, name, principal_kind, at)
        record(
            conn,
            Event(
                actor=str(actor),
                action="principal.create",
                details={
                    "principal": str(issued.principal_id),
                    "kind": principal_kind.value,
                    "allowed_by": str(allowed.grant_id),
                },
            ),
            at=at,
        )
        return issued

    return guarded(engine, work)


def disable_principal(
    engine: Engine, actor: uuid.UUID, name_or_id: str, reason: str, *, clock: Clock = utc_now
) -> Principal:
    """Disable a principal (needs access:manage): its tokens and grants stop working at once."""
    check_reason(reason)

    def work(conn: Connection) -> Principal:
        at = clock()
        allowed = require(conn, actor, Permission.ACCESS_MANAGE, at=at, action="principal.disable")
        target = find_principal(conn, name_or_id)
        if target.id == actor:
            raise BadInput("you cannot disable yourself: ask another admin")
        if target.disabled_at is not None:
            raise BadInput(f"principal {target.id} is already disabled")
        conn.execute(update(Principal).where(col(Principal.id) == target.id).values(disabled_at=at))
        record(
            conn,
            Event(
                actor=str(actor),
                action="principal.disable",
                reason=reason,
                details={"principal": str(target.id), "allowed_by": str(allowed.grant_id)},
            ),
            at=at,
        )
        target.disabled_at = at
        return target

    return guarded(engine, work)


def rotate_token(
    engine: Engine, actor: uuid.UUID, name_or_id: str, *, clock: Clock = utc_now
) -> IssuedToken:
    """Revoke every token of a principal and issue a new one.

    A principal may rotate its own token (a leaked token must be replaceable without an admin);
    rotating someone else's needs access:manage.
    """

    def work(conn: Connection) -> IssuedToken:
        at = clock()
        target = find_principal(conn, name_or_id)
        if target.id != actor:
            require(conn, actor, Permission.ACCESS_MANAGE, at=at, action="principal.rotate_token")
        if target.disabled_at is not None:
            raise BadInput(f"principal {target.id} is disabled: nothing to rotate")
        conn.execute(
            update(Token)
            .where(col(Token.principal_id) == target.id, col(Token.revoked_at).is_(None))
            .values(revoked_at=at)
        )
        token = new_token()
        conn.execute(
            table_of(Token)
            .insert()
            .values(
                id=uuid.uuid4(), principal_id=target.id, token_hash=hash_token(token), created_at=at
            )
        )
        record(
            conn,
            Event(
                actor=str(actor),
                action="principal.rotate_token",
                details={"principal": str(target.id)},
            ),
            at=at,
        )
        return IssuedToken(target.id, target.name, token)

    return guarded(engine, work)


def list_principals(engine: Engine, actor: uuid.UUID, *, clock: Clock = utc_now) -> list[Principal]:
    """Every principal (needs access:manage or audit:read)."""

    def work(conn: Connection) -> list[Principal]:
        at = clock()
        try:
            require(conn, actor, Permission.ACCESS_MANAGE, at=at, action="principal.list")
        except Refused:
            require(conn, actor, Permission.AUDIT_READ, at=at, action="principal.list")
        rows = conn.execute(select(Principal).order_by(Principal.name)).all()
        return [Principal.model_validate(r._mapping) for r in rows]

    return guarded(engine, work)


def _kind(kind: str) -> PrincipalKind:
    try:
        return PrincipalKind(kind)
    except ValueError:
        raise BadInput("principal kind must be 'human' or 'service'") from None
