"""Consent recording through the gateway: give, withdraw and list consents of a subject.

GDPR Art. 7(1): the controller must be able to demonstrate consent, so every consent event is a
row (renewals are new rows; for a purpose the one given last counts) and an audit entry carrying
the purpose and the version of the notice the person saw. Withdrawal is as easy as giving it
(Art. 7(3)): it stamps the consents of that purpose still in force.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlmodel import col

from retention.access import Permission
from retention.durations import check_within_years, resolve_expiry
from retention.errors import BadInput
from retention.store import (
    Consent,
    ConsentEventKind,
    append_event,
    notice_hash_for,
    refuse_personal,
    table_of,
)
from retention.subjects.gateway import Gateway, SubjectWork, Then

__all__ = ["list_consents", "record_consent", "withdraw_consent"]

_PURPOSE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_NOTICE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _purpose(purpose: str) -> str:
    if not _PURPOSE_RE.fullmatch(purpose):
        raise BadInput(
            "--purpose must be a lowercase name like talent_pool (at most 64 characters)"
        )
    return purpose


def _consent_dict(row: Any) -> dict[str, Any]:
    return {c: getattr(row, c) for c in Consent.model_fields}


def record_consent(
    gateway: Gateway,
    subject_id: uuid.UUID,
    *,
    purpose: str,
    notice: str,
    channel: str,
    expires: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """Record a consent given now (needs consent:write in the subject's country)."""
    _purpose(purpose)
    if not _NOTICE_RE.fullmatch(notice):
        raise BadInput("--notice must be a version like 2026-01 or v3 (at most 64 characters)")
    if not channel.strip() or len(channel) > 64 or any(ord(c) < 32 for c in channel):
        raise BadInput("--channel must be 1-64 printable characters, like 'web form'")
    refuse_personal("--channel", channel)
    if expires is not None:  # a malformed or unbounded value fails before the subject is read
        now = gateway.clock()
        check_within_years(resolve_expiry(expires, now), now, "--expires")

    def work(conn: Connection, subject: Any, at: datetime) -> SubjectWork[dict[str, Any]]:
        expires_at = None
        if expires is not None:
            expires_at = check_within_years(resolve_expiry(expires, at), at, "--expires")
        notice_hash = notice_hash_for(conn, purpose, notice, language)
        values = {
            "candidate_id": subject.id,
            "purpose": purpose,
            "notice_version": notice,
            "notice_hash": notice_hash,
            "channel": channel,
            "given_at": at,
            "expires_at": expires_at,
        }
        consent_id = conn.execute(
            table_of(Consent).insert().values(**values).returning(table_of(Consent).c.id)
        ).scalar_one()
        append_event(
            conn,
            candidate_id=subject.id,
            purpose=purpose,
            kind=ConsentEventKind.GIVEN,
            at=at,
            channel=channel,
            method="recorded",
            actor=str(gateway.principal_id),
            consent_id=consent_id,
            notice_version=notice,
            notice_hash=notice_hash,
            valid_until=expires_at,
        )
        details = {
            "consent": consent_id,
            "purpose": purpose,
            "notice_version": notice,
            "notice_hash": notice_hash,
            "channel": channel,
            "expires_at": expires_at,
        }
        return SubjectWork({"id": consent_id, **values}, details)

    return gateway.on_subject(subject_id, Permission.CONSENT_WRITE, "consent.record", work)


def withdraw_consent(
    gateway: Gateway,
    subject_id: uuid.UUID,
    *,
    purpose: str,
    channel: str = "staff",
    then: Then | None = None,
) -> int:
    """Withdraw the subject's consents for `purpose` still in force; returns how many.

    `then` runs in the same transaction (an objection it answers records its state change)."""
    _purpose(purpose)

    def work(conn: Connection, subject: Any, at: datetime) -> SubjectWork[int]:
        c = table_of(Consent).c
        open_rows = conn.execute(
            select(c.id, c.notice_version, c.notice_hash).where(
                c.candidate_id == subject.id, c.purpose == purpose, c.withdrawn_at.is_(None)
            )
        ).all()
        changed = conn.execute(
            update(table_of(Consent))
            .where(c.candidate_id == subject.id, c.purpose == purpose, c.withdrawn_at.is_(None))
            .values(withdrawn_at=at)
        ).rowcount
        if not changed:
            raise BadInput(f"subject {subject.id} has no consent for {purpose} to withdraw")
        for row in open_rows:
            append_event(
                conn,
                candidate_id=subject.id,
                purpose=purpose,
                kind=ConsentEventKind.WITHDRAWN,
                at=at,
                channel=channel,
                method="recorded",
                actor=str(gateway.principal_id),
                consent_id=row.id,
                notice_version=row.notice_version,
                notice_hash=row.notice_hash,
            )
        more = {} if then is None else dict(then(conn, at))
        return SubjectWork(changed, {"purpose": purpose, "withdrawn": changed, **more})

    # Withdrawal must stay as easy as giving consent (Art. 7(3)), also for a blocked subject.
    return gateway.on_subject(
        subject_id, Permission.CONSENT_WRITE, "consent.withdraw", work, open_when_blocked=True
    )


def list_consents(gateway: Gateway, subject_id: uuid.UUID) -> list[dict[str, Any]]:
    """The subject's consent history, oldest first (a read of personal data: audited)."""

    def work(conn: Connection, subject: Any, at: datetime) -> SubjectWork[list[dict[str, Any]]]:
        rows = conn.execute(
            select(Consent)
            .where(Consent.candidate_id == subject.id)
            .order_by(col(Consent.given_at))
        ).all()
        return SubjectWork([_consent_dict(r) for r in rows], {"consents": len(rows)})

    return gateway.on_subject(subject_id, Permission.CANDIDATE_READ, "consent.list", work)
