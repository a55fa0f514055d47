"""Principals (people and services), their enrollment codes and bearer tokens; authentication.

A token is `gdpr_` followed by 32 random bytes in URL-safe base64; only its SHA-256 is stored, so a
copy of the database gives nobody a way in. A lookup by hash, confirmed with a constant-time
comparison, finds the principal. Every failed authentication is audited (actor "anonymous" or the
principal's id, never any part of the token), and every change to a principal is audited with it.

Credentials are issued to the person, not to the admin: creating a principal or rotating its
token yields only a single-use enrollment code (`enroll_` + 32 random bytes, valid 24 hours,
stored as a hash), which the person redeems (`gdpr principal enroll`) for a token nobody else
sees. Each token records who issued the code it came from; grants of a principal are approved by
someone other than that issuer, and rotating someone else's token suspends its grants that need
approval until a person other than the rotator approves them again. A code redeemed twice means
two parties held it: the second attempt fails, revokes the token the first one produced, and is
audited as an alarm.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update
from sqlmodel import col

from audit_log import Event, Outcome
from retention.access.authorization import ALL_COUNTRIES, GrantStatus, PrincipalView
from retention.access.guard import Refused, guarded, require
from retention.access.permissions import APPROVAL_ROLES, Permission
from retention.clock import Clock, utc_now
from retention.errors import AccessDenied, BadInput, NotFound
from retention.logs import get_logger
from retention.store import (
    ANONYMOUS,
    Enrollment,
    Grant,
    Principal,
    PrincipalKind,
    Token,
    check_reason,
    record,
    table_of,
    transaction,
)

__all__ = [
    "ENROLLMENT_PREFIX",
    "ENROLLMENT_TTL",
    "TOKEN_PREFIX",
    "AuthFailure",
    "IssuedEnrollment",
    "IssuedToken",
    "authenticate",
    "create_principal",
    "credential_issuers",
    "disable_principal",
    "enroll",
    "find_principal",
    "find_principal_by_name",
    "hash_token",
    "insert_enrollment",
    "list_principals",
    "new_token",
    "record_auth_failures",
    "rotate_token",
    "verify_token",
]

TOKEN_PREFIX = "gdpr_"  # noqa: S105  (a prefix that makes leaked tokens recognizable)
TOKEN_BYTES = 32
ENROLLMENT_PREFIX = "enroll_"
ENROLLMENT_TTL = timedelta(hours=24)
_TOKEN_RE = re.compile(r"gdpr_[A-Za-z0-9_-]{43}")
_CODE_RE = re.compile(r"enroll_[A-Za-z0-9_-]{43}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

log = get_logger("retention.access")


@dataclass(frozen=True)
class IssuedToken:
    """A principal and its new token: the only moment the token's text exists outside a hash."""

    principal_id: uuid.UUID
    name: str
    token: str


@dataclass(frozen=True)
class IssuedEnrollment:
    """A single-use code for the person behind `principal_id` to redeem for its own token.

    `suspended` lists the grants put back to pending because someone else rotated the token.
    """

    principal_id: uuid.UUID
    name: str
    code: str
    expires_at: datetime
    suspended: tuple[uuid.UUID, ...] = ()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_enrollment_code() -> str:
    return ENROLLMENT_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


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
    """Create a principal with a first token (only `gdpr init` does); caller audits and commits."""
    principal_id = _insert_bare_principal(conn, name, kind, at)
    token = new_token()
    conn.execute(
        table_of(Token)
        .insert()
        .values(
            id=uuid.uuid4(), principal_id=principal_id, token_hash=hash_token(token), created_at=at
        )
    )
    return IssuedToken(principal_id, name, token)


def _insert_bare_principal(
    conn: Connection, name: str, kind: PrincipalKind, at: datetime
) -> uuid.UUID:
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
    return principal_id


def insert_enrollment(
    conn: Connection, principal_id: uuid.UUID, issued_by: uuid.UUID | None, at: datetime
) -> tuple[uuid.UUID, str, datetime]:
    """A new enrollment code for `principal_id`, voiding any earlier open one; caller audits."""
    conn.execute(
        update(Enrollment)
        .where(
            col(Enrollment.principal_id) == principal_id,
            col(Enrollment.redeemed_at).is_(None),
            col(Enrollment.expires_at) > at,
        )
        .values(expires_at=at)
    )
    code = new_enrollment_code()
    enrollment_id = uuid.uuid4()
    expires_at = at + ENROLLMENT_TTL
    conn.execute(
        table_of(Enrollment)
        .insert()
        .values(
            id=enrollment_id,
            principal_id=principal_id,
            code_hash=hash_token(code),
            issued_by=issued_by,
            created_at=at,
            expires_at=expires_at,
        )
    )
    return enrollment_id, code, expires_at


def credential_issuers(conn: Connection, principal_id: uuid.UUID, at: datetime) -> set[uuid.UUID]:
    """Who issued a credential of `principal_id` that works or can still be redeemed.

    The issuer may hold the credential (it saw the code), so it may not approve that principal's
    grants. A self-rotation keeps the issuer of the credential it replaces; `gdpr init` (None)
    is no principal and is left out.
    """
    tokens = select(col(Token.issued_by)).where(
        col(Token.principal_id) == principal_id,
        or_(col(Token.revoked_at).is_(None), col(Token.revoked_at) > at),
    )
    codes = select(col(Enrollment.issued_by)).where(
        col(Enrollment.principal_id) == principal_id,
        col(Enrollment.redeemed_at).is_(None),
        col(Enrollment.expires_at) > at,
    )
    issuers = {r[0] for r in conn.execute(tokens)} | {r[0] for r in conn.execute(codes)}
    return {i for i in issuers if i is not None and i != principal_id}


def _current_issuer(conn: Connection, principal_id: uuid.UUID, at: datetime) -> uuid.UUID | None:
    """Who issued the newest working token of `principal_id` (None: `gdpr init`)."""
    return conn.execute(
        select(col(Token.issued_by))
        .where(
            col(Token.principal_id) == principal_id,
            or_(col(Token.revoked_at).is_(None), col(Token.revoked_at) > at),
        )
        .order_by(col(Token.created_at).desc())
        .limit(1)
    ).scalar()


def _suspend_grants(conn: Connection, principal_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """Put the principal's active grants that need approval back to pending; their ids."""
    g = table_of(Grant).c
    live = and_(
        g.principal_id == principal_id,
        g.status == GrantStatus.ACTIVE.value,
        g.revoked_at.is_(None),
        g.expires_at > at,
        or_(g.role.in_(sorted(r.value for r in APPROVAL_ROLES)), g.countries == ALL_COUNTRIES),
    )
    ids = sorted(conn.execute(select(g.id).where(live)).scalars().all(), key=str)
    if ids:
        conn.execute(
            update(table_of(Grant))
            .where(g.id.in_(ids))
            .values(status=GrantStatus.PENDING.value, approved_by=None, approved_at=None)
        )
    return ids


@dataclass(frozen=True)
class AuthFailure:
    """Why a token did not authenticate: the reason recorded, the message shown, and who it
    named (`actor`: the principal of a revoked token or a disabled principal, else anonymous).
    `bad_usage`: no token or a malformed one (the CLI's exit 2), not a denial."""

    actor: str
    reason: str
    message: str
    bad_usage: bool = False

    def error(self) -> BadInput | AccessDenied:
        return BadInput(self.message) if self.bad_usage else AccessDenied(self.message)


def verify_token(
    engine: Engine, token: str | None, *, clock: Clock = utc_now
) -> PrincipalView | AuthFailure:
    """The one token check: the principal a token belongs to, or why not. Audits nothing.

    A lookup by SHA-256, confirmed with a constant-time comparison. Front ends audit failures:
    `authenticate` (the CLI) one entry each; the HTTP API aggregated per source and minute.
    """
    at = clock()
    if not token:
        return AuthFailure(
            ANONYMOUS, "no token", "no token: set GDPR_TOKEN or pass --token-file", True
        )
    token = token.strip()
    if not _TOKEN_RE.fullmatch(token):
        message = f"malformed token: expected '{TOKEN_PREFIX}' followed by 43 characters"
        return AuthFailure(ANONYMOUS, "malformed token", message, True)
    digest = hash_token(token)
    with engine.connect() as conn:
        row = conn.execute(_TOKEN_LOOKUP, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return AuthFailure(ANONYMOUS, "unknown token", "authentication failed: unknown token")
    failure: str | None = None
    if row.revoked_at is not None and row.revoked_at <= at:
        failure = "revoked token"
    elif row.disabled_at is not None and row.disabled_at <= at:
        failure = "disabled principal"
    if failure is not None:
        return AuthFailure(str(row.id), failure, f"authentication failed: {failure}")
    return PrincipalView(row.id, row.name, row.disabled_at)


_TOKEN_LOOKUP = (
    select(
        col(Token.token_hash),
        col(Token.revoked_at),
        col(Principal.id),
        col(Principal.name),
        col(Principal.disabled_at),
    )
    .join(Principal, col(Principal.id) == col(Token.principal_id))
    .where(col(Token.token_hash) == bindparam("digest"))
)


def authenticate(engine: Engine, token: str | None, *, clock: Clock = utc_now) -> PrincipalView:
    """The principal a token belongs to; a failure is audited, then raised.

    Missing or malformed tokens are bad usage (`BadInput`, exit 2); unknown or revoked tokens and
    disabled principals are denials (`AccessDenied`, exit 1).
    """
    result = verify_token(engine, token, clock=clock)
    if isinstance(result, AuthFailure):
        _audit_failure(engine, result.actor, result.reason, clock())
        raise result.error()
    return result


def record_auth_failures(
    engine: Engine,
    source: str,
    count: int,
    reasons: Mapping[str, int],
    principals: Sequence[str],
    window_start: datetime,
    *,
    first: bool,
) -> None:
    """One entry for failed authentications from `source` (a network, never a full address)
    in the minute from `window_start`: the first of the minute (`first`), or the rest, counted."""
    event = Event(
        actor=ANONYMOUS,
        action="auth.failed",
        outcome=Outcome.DENIED,
        reason=(
            next(iter(reasons), "failed authentication")
            if first
            else f"{count} more failed authentications from this source in the minute"
        ),
        details={
            "source": source,
            "count": count,
            "reasons": dict(sorted(reasons.items())),
            "principals": sorted(set(principals)),
            "window_start": window_start,
            "aggregated": not first,
        },
    )
    with transaction(engine) as conn:
        record(conn, event)


def _failure_event(actor: str, reason: str) -> Event:
    return Event(actor=actor, action="auth.failed", outcome=Outcome.DENIED, reason=reason)


def _audit_failure(engine: Engine, actor: str, reason: str, at: datetime) -> None:
    with transaction(engine) as conn:
        record(conn, _failure_event(actor, reason))


def create_principal(
    engine: Engine, actor: uuid.UUID, name: str, kind: str, *, clock: Clock = utc_now
) -> IssuedEnrollment:
    """Create a principal (needs access:manage); returns its enrollment code, shown once.

    The creator gets no token: the person redeems the code (`enroll`) for one.
    """
    principal_kind = _kind(kind)
    check_name(name)

    def work(conn: Connection) -> IssuedEnrollment:
        at = clock()
        allowed = require(conn, actor, Permission.ACCESS_MANAGE, at=at, action="principal.create")
        principal_id = _insert_bare_principal(conn, name, principal_kind, at)
        enrollment_id, code, expires_at = insert_enrollment(conn, principal_id, actor, at)
        record(
            conn,
            Event(
                actor=str(actor),
                action="principal.create",
                details={
                    "principal": str(principal_id),
                    "kind": principal_kind.value,
                    "enrollment": str(enrollment_id),
                    "enrollment_expires_at": expires_at,
                    "allowed_by": str(allowed.grant_id),
                },
            ),
            at=at,
        )
        return IssuedEnrollment(principal_id, name, code, expires_at)

    return guarded(engine, work)


def enroll(engine: Engine, code: str | None, *, clock: Clock = utc_now) -> IssuedToken:
    """Redeem an enrollment code for the principal's own token; audited, single use.

    A malformed code is bad input (exit 2); an unknown, expired or used one is a denial (exit 1).
    A second redemption revokes the token the first produced (the code was seen by two parties)
    and is audited as an alarm.
    """
    at = clock()
    code = (code or "").strip()
    if not _CODE_RE.fullmatch(code):
        _audit_enroll_failure(engine, ANONYMOUS, "malformed enrollment code", at)
        raise BadInput(
            f"malformed enrollment code: expected '{ENROLLMENT_PREFIX}' followed by 43 characters"
        )
    digest = hash_token(code)
    with transaction(engine) as conn:
        row = conn.execute(
            select(Enrollment, col(Principal.name), col(Principal.disabled_at))
            .join(Principal, col(Principal.id) == col(Enrollment.principal_id))
            .where(col(Enrollment.code_hash) == digest)
        ).first()
        issued: IssuedToken | None = None
        if row is None or not hmac.compare_digest(row.code_hash, digest):
            failure = "unknown enrollment code"
            record(conn, _enroll_failure(ANONYMOUS, failure), at=at)
        elif row.redeemed_at is not None:
            failure = _enrollment_reused(conn, row, at)
        elif row.expires_at <= at:
            failure = "expired enrollment code: ask for a new one"
            record(conn, _enroll_failure(str(row.principal_id), failure), at=at)
        elif row.disabled_at is not None and row.disabled_at <= at:
            failure = "disabled principal"
            record(conn, _enroll_failure(str(row.principal_id), failure), at=at)
        else:
            issued = _redeem(conn, row, at)
            # Lost a race with a concurrent redemption: that is a second redemption too.
            failure = _enrollment_reused(conn, _reload(conn, row), at) if issued is None else ""
    if issued is None:
        raise AccessDenied(f"enrollment failed: {failure}")
    return issued


def _reload(conn: Connection, row: Any) -> Any:
    return conn.execute(
        select(Enrollment, col(Principal.name), col(Principal.disabled_at))
        .join(Principal, col(Principal.id) == col(Enrollment.principal_id))
        .where(col(Enrollment.id) == row.id)
    ).one()


def _redeem(conn: Connection, row: Any, at: datetime) -> IssuedToken | None:
    """Claim the code (conditional update: single use under concurrency) and mint the token."""
    token_id = uuid.uuid4()
    claimed = conn.execute(
        update(Enrollment)
        .where(col(Enrollment.id) == row.id, col(Enrollment.redeemed_at).is_(None))
        .values(redeemed_at=at)
    )
    if claimed.rowcount != 1:
        return None
    conn.execute(
        update(Token)
        .where(col(Token.principal_id) == row.principal_id, col(Token.revoked_at).is_(None))
        .values(revoked_at=at)
    )
    token = new_token()
    conn.execute(
        table_of(Token)
        .insert()
        .values(
            id=token_id,
            principal_id=row.principal_id,
            token_hash=hash_token(token),
            created_at=at,
            issued_by=row.issued_by,
        )
    )
    conn.execute(update(Enrollment).where(col(Enrollment.id) == row.id).values(token_id=token_id))
    record(
        conn,
        Event(
            actor=str(row.principal_id),
            action="principal.enroll",
            details={
                "principal": str(row.principal_id),
                "enrollment": str(row.id),
                "issued_by": None if row.issued_by is None else str(row.issued_by),
                "token": str(token_id),
            },
        ),
        at=at,
    )
    return IssuedToken(row.principal_id, row.name, token)


def _enrollment_reused(conn: Connection, row: Any, at: datetime) -> str:
    """A used code presented again: revoke what it produced, record the alarm; the message."""
    revoked: list[str] = []
    if row.token_id is not None:
        done = conn.execute(
            update(Token)
            .where(col(Token.id) == row.token_id, col(Token.revoked_at).is_(None))
            .values(revoked_at=at)
        )
        if done.rowcount:
            revoked.append(str(row.token_id))
    record(
        conn,
        Event(
            actor=str(row.principal_id),
            action="principal.enroll",
            outcome=Outcome.DENIED,
            reason="alarm: enrollment code redeemed a second time",
            details={
                "alarm": "enrollment_code_reused",
                "principal": str(row.principal_id),
                "enrollment": str(row.id),
                "first_redeemed_at": row.redeemed_at,
                "revoked_tokens": revoked,
            },
        ),
        at=at,
    )
    log.warning("enrollment.reused", principal=str(row.principal_id), enrollment=str(row.id))
    return (
        "enrollment code already used; recorded as an alarm and the token it gave was "
        "revoked: ask for a new code"
    )


def _enroll_failure(actor: str, reason: str) -> Event:
    return Event(actor=actor, action="principal.enroll", outcome=Outcome.DENIED, reason=reason)


def _audit_enroll_failure(engine: Engine, actor: str, reason: str, at: datetime) -> None:
    with transaction(engine) as conn:
        record(conn, _enroll_failure(actor, reason), at=at)


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
) -> IssuedEnrollment:
    """Revoke every token of a principal at once and issue an enrollment code for a new one.

    A principal may rotate its own token (a leaked token must be replaceable without an admin);
    the new credential keeps the old one's issuer (who may be the one holding it). Rotating
    someone else's needs access:manage, makes the rotator the issuer, and suspends the target's grants that need
    approval (personal data, privileged, every country) until someone other than the rotator
    approves them again: whoever holds the code could otherwise act as the target.
    """

    def work(conn: Connection) -> IssuedEnrollment:
        at = clock()
        target = find_principal(conn, name_or_id)
        allowed_by: str | None = None
        if target.id != actor:
            allowed = require(
                conn, actor, Permission.ACCESS_MANAGE, at=at, action="principal.rotate_token"
            )
            allowed_by = str(allowed.grant_id)
        if target.disabled_at is not None:
            raise BadInput(f"principal {target.id} is disabled: nothing to rotate")
        # A self-rotation keeps the issuer: whoever issued the old credential may be its holder.
        issuer = actor if target.id != actor else _current_issuer(conn, target.id, at)
        conn.execute(
            update(Token)
            .where(col(Token.principal_id) == target.id, col(Token.revoked_at).is_(None))
            .values(revoked_at=at)
        )
        suspended = _suspend_grants(conn, target.id, at) if target.id != actor else []
        enrollment_id, code, expires_at = insert_enrollment(conn, target.id, issuer, at)
        record(
            conn,
            Event(
                actor=str(actor),
                action="principal.rotate_token",
                details={
                    "principal": str(target.id),
                    "enrollment": str(enrollment_id),
                    "enrollment_expires_at": expires_at,
                    "suspended_grants": [str(g) for g in suspended],
                    "allowed_by": allowed_by,
                },
            ),
            at=at,
        )
        return IssuedEnrollment(target.id, target.name, code, expires_at, tuple(suspended))

    return guarded(engine, work)


def list_principals(engine: Engine, actor: uuid.UUID, *, clock: Clock = utc_now) -> list[Principal]:
    """Every principal (needs access:manage or audit:read)."""

    def work(conn: Connection) -> list[Principal]:
        at = clock()
        try:
            require(conn, actor, Permission.ACCESS_MANAGE, at=at, action="principal.list")
        except Refused:
            require(conn, actor, Permission.AUDIT_READ, at=at, action="principal.list")
        rows = conn.execute(select(Principal).order_by(col(Principal.name))).all()
        return [Principal.model_validate(r._mapping) for r in rows]

    return guarded(engine, work)


def _kind(kind: str) -> PrincipalKind:
    try:
        return PrincipalKind(kind)
    except ValueError:
        raise BadInput("principal kind must be 'human' or 'service'") from None
