"""The candidate's answer through the e-mailed link: the page, and the renewal or withdrawal.

The link is the credential (no bearer token): a token that `links.LinkKeys` signed for one outbox
message. A link is usable only while all of these hold: the token verifies and has not expired,
its message was sent and no message of that consent was answered, the subject exists and is not
anonymized, and the consent is still the latest for its purpose, neither withdrawn nor expired.
Anything else (reused, expired, tampered, erased) gets the one neutral page, built from the
visitor's language alone, so it reveals nothing about any candidate. An answer is a consent event
(channel `email-link`, the notice hash the page showed) and an audit entry (`consent.renewed` or
`consent.withdrawn`), committed with the state change and the answered mark in one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, or_, select, update

from audit_log import Event
from policies import PolicySet, expiry_after
from retention.consent.links import LinkKeys
from retention.consent.rendering import render_done, render_neutral, render_page
from retention.store import (
    Candidate,
    Consent,
    ConsentEventKind,
    MailOutbox,
    Notice,
    append_event,
    is_postgresql,
    record,
    table_of,
    transaction,
)

__all__ = ["ANSWER_ACTOR", "Answer", "AnswerPage", "answer_link", "open_link"]

ANSWER_ACTOR = "data-subject:email-link"

_c = table_of(Consent)
_cand = table_of(Candidate)
_out = table_of(MailOutbox)
_notice = table_of(Notice)


class Answer(StrEnum):
    RENEW = "renew"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class AnswerPage:
    """What the front end returns: the HTML, and whether the link was usable (status code)."""

    html: str
    usable: bool
    state: str  # answer | renewed | withdrawn | neutral


def _neutral(language: str) -> AnswerPage:
    return AnswerPage(render_neutral(language), False, "neutral")


def _usable(conn: Connection, message_id: uuid.UUID, at: datetime) -> Any:
    o = _out.c
    newer = _c.alias("newer")
    latest = ~exists().where(
        newer.c.candidate_id == _c.c.candidate_id,
        newer.c.purpose == _c.c.purpose,
        or_(
            newer.c.given_at > _c.c.given_at,
            and_(newer.c.given_at == _c.c.given_at, newer.c.id > _c.c.id),
        ),
    )
    answered = _out.alias("answered")
    q = (
        select(
            o.id,
            o.candidate_id,
            o.consent_id,
            o.purpose,
            o.language,
            o.notice_hash,
            _c.c.expires_at,
            _c.c.notice_version,
            _cand.c.country,
        )
        .select_from(
            _out.join(_c, _c.c.id == o.consent_id).join(_cand, _cand.c.id == o.candidate_id)
        )
        .where(
            o.id == message_id,
            o.status == "sent",
            o.answered_at.is_(None),
            o.link_expires_at > at,
            ~exists().where(
                answered.c.consent_id == o.consent_id, answered.c.answered_at.is_not(None)
            ),
            _cand.c.anonymized_at.is_(None),
            _c.c.withdrawn_at.is_(None),
            _c.c.expires_at > at,
            latest,
        )
    )
    return conn.execute(q).one_or_none()


def _lock_campaign(conn: Connection, message_id: uuid.UUID) -> None:
    """Lock every message of the link's consent, in id order, before checking it: two links of
    one consent answered at once then queue behind each other instead of deadlocking. (SQLite's
    BEGIN IMMEDIATE already serializes writers.)"""
    if not is_postgresql(conn.engine):
        return
    o = _out.c
    consent = select(o.consent_id).where(o.id == message_id).scalar_subquery()
    conn.execute(select(o.id).where(o.consent_id == consent).order_by(o.id).with_for_update())


def _notice_for(conn: Connection, sha256: str | None) -> Any:
    if sha256 is None:
        return None
    n = _notice.c
    return conn.execute(
        select(n.text, n.language, n.version, n.sha256).where(n.sha256 == sha256).limit(1)
    ).one_or_none()


def open_link(
    engine: Engine,
    keys: LinkKeys,
    token: str,
    *,
    csrf_nonce: str,
    action: str,
    visitor_language: str,
    at: datetime,
) -> AnswerPage:
    """The page for a link (GET): the notice and the two forms, or the neutral page."""
    parsed = keys.read(token, at)
    if parsed is None:
        return _neutral(visitor_language)
    with transaction(engine) as conn:
        row = _usable(conn, parsed.message_id, at)
        notice = _notice_for(conn, row.notice_hash) if row is not None else None
    if row is None or notice is None:
        return _neutral(visitor_language)
    html = render_page(
        language=row.language,
        purpose=row.purpose,
        expires_at=row.expires_at,
        notice_text=notice.text,
        notice_language=notice.language,
        action=action,
        csrf=keys.csrf(parsed.message_id, csrf_nonce),
    )
    return AnswerPage(html, True, "answer")


def answer_link(
    engine: Engine,
    keys: LinkKeys,
    policy_set: PolicySet,
    token: str,
    *,
    answer: str,
    csrf_nonce: str | None,
    csrf: str | None,
    visitor_language: str,
    at: datetime,
) -> AnswerPage:
    """Apply the candidate's answer (POST) once; any failed check gives the neutral page."""
    parsed = keys.read(token, at)
    if parsed is None or answer not in Answer.__members__.values():
        return _neutral(visitor_language)
    if not keys.csrf_ok(parsed.message_id, csrf_nonce, csrf):
        return _neutral(visitor_language)
    choice = Answer(answer)
    with transaction(engine) as conn:
        _lock_campaign(conn, parsed.message_id)
        row = _usable(conn, parsed.message_id, at)
        notice = _notice_for(conn, row.notice_hash) if row is not None else None
        if row is None or notice is None:
            return _neutral(visitor_language)
        # Single use: every message of this consent is answered now (the unique claim).
        claimed = conn.execute(
            update(_out)
            .where(_out.c.consent_id == row.consent_id, _out.c.answered_at.is_(None))
            .values(answered_at=at)
        ).rowcount
        if not claimed:
            return _neutral(visitor_language)
        if choice is Answer.RENEW:
            _renew(conn, policy_set, row, notice, at)
        else:
            _withdraw(conn, row, notice, at)
    state = "renewed" if choice is Answer.RENEW else "withdrawn"
    return AnswerPage(render_done(row.language, state), True, state)


def _renew(conn: Connection, policy_set: PolicySet, row: Any, notice: Any, at: datetime) -> None:
    policy = policy_set.policy_for(row.country)
    renewal = None if policy is None else policy.renewal_for(row.purpose)
    expires_at = expiry_after(renewal, at) if renewal is not None else None
    new_id = conn.execute(
        _c.insert()
        .values(
            candidate_id=row.candidate_id,
            purpose=row.purpose,
            notice_version=notice.version,
            notice_hash=notice.sha256,
            channel="email-link",
            given_at=at,
            expires_at=expires_at,
        )
        .returning(_c.c.id)
    ).scalar_one()
    append_event(
        conn,
        candidate_id=row.candidate_id,
        purpose=row.purpose,
        kind=ConsentEventKind.RENEWED,
        at=at,
        channel="email-link",
        method="email-link",
        actor=ANSWER_ACTOR,
        consent_id=new_id,
        renews=row.consent_id,
        notice_version=notice.version,
        notice_hash=notice.sha256,
        valid_until=expires_at,
    )
    record(
        conn,
        Event(
            actor=ANSWER_ACTOR,
            action="consent.renewed",
            subject=row.candidate_id,
            details={
                "purpose": row.purpose,
                "consent": new_id,
                "renews": row.consent_id,
                "notice_hash": notice.sha256,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "message": str(row.id),
            },
        ),
        at=at,
    )


def _withdraw(conn: Connection, row: Any, notice: Any, at: datetime) -> None:
    conn.execute(
        update(_c)
        .where(
            _c.c.candidate_id == row.candidate_id,
            _c.c.purpose == row.purpose,
            _c.c.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=at)
    )
    append_event(
        conn,
        candidate_id=row.candidate_id,
        purpose=row.purpose,
        kind=ConsentEventKind.WITHDRAWN,
        at=at,
        channel="email-link",
        method="email-link",
        actor=ANSWER_ACTOR,
        consent_id=row.consent_id,
        notice_version=notice.version,
        notice_hash=notice.sha256,
    )
    record(
        conn,
        Event(
            actor=ANSWER_ACTOR,
            action="consent.withdrawn",
            subject=row.candidate_id,
            details={
                "purpose": row.purpose,
                "consent": row.consent_id,
                "notice_hash": notice.sha256,
                "message": str(row.id),
            },
        ),
        at=at,
    )
