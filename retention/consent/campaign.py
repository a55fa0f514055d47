"""Renewal campaigns: select what is due set-based, queue it in one transaction, send, expire.

A campaign for a consent is its ask (step 0) and reminders (steps 1..n, in schedule order), each a
row of `mail_outbox` unique per (consent, step): selecting and queuing again queues nothing twice.
What is due is chosen by one statement per step of each distinct schedule (`schedules`), over the
consents in force that are the latest for their purpose (the same anti-join the sweep reads):

- the ask once the expiry is at most the schedule's `ask` away;
- a reminder `after asking` once the ask was sent that long ago; `before expiry` once the expiry
  is that close; both only after the ask was sent, before the expiry, at most one message per
  consent a day, and never past `[consent] max_messages` per consent (per campaign).

Candidates anonymized, blocked (restricted processing) or without an address are never selected.
Sending claims a batch (next attempt pushed out; PostgreSQL skips rows another sender locked),
sends on one reused SMTP connection, then records each outcome with its consent event and audit
entry in one transaction. Silence renews nothing: a consent whose expiry passed gets an `expired`
event (and `consent.expired` entry) and the retention rules act on it as before.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from audit_log import Event
from policies import PolicySet, add_duration, expiry_after
from retention.config import ConsentSettings
from retention.consent.languages import language_for
from retention.consent.links import LinkKeys, answer_url
from retention.consent.mailer import Delivery, SendResult, SmtpSession
from retention.consent.rendering import render_email
from retention.consent.schedules import ScheduleGroup, schedule_groups
from retention.store import (
    Candidate,
    Consent,
    ConsentEvent,
    ConsentEventKind,
    MailOutbox,
    MailStatus,
    MailUndeliverable,
    Notice,
    append_events,
    is_postgresql,
    record,
    table_of,
    transaction,
)

__all__ = [
    "CampaignCounts",
    "DueMessage",
    "expire_due",
    "queue_due",
    "select_due",
    "send_queued",
]

_c = table_of(Consent)
_cand = table_of(Candidate)
_out = table_of(MailOutbox)
_ev = table_of(ConsentEvent)
_notice = table_of(Notice)
_bad = table_of(MailUndeliverable)

ONE_A_DAY = timedelta(hours=20)  # a daily job a little early or late still sends one a day
CLAIM = timedelta(minutes=15)  # how long a claimed batch is hidden from other senders
BATCH = 200


@dataclass
class CampaignCounts:
    """What one run did (no personal data: counts only)."""

    selected: int = 0
    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    undeliverable: int = 0
    cancelled: int = 0
    expired: int = 0
    by_step: dict[int, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "selected": self.selected,
            "queued": self.queued,
            "sent": self.sent,
            "retried": self.retried,
            "failed": self.failed,
            "undeliverable": self.undeliverable,
            "cancelled": self.cancelled,
            "expired": self.expired,
            "asks": self.by_step.get(0, 0),
            "reminders": sum(n for s, n in self.by_step.items() if s > 0),
        }


@dataclass(frozen=True)
class DueMessage:
    candidate_id: uuid.UUID
    consent_id: int
    purpose: str
    step: int
    country: str
    expires_at: datetime
    notice_hash: str | None


def _is_latest(purpose: str) -> ColumnElement[bool]:
    newer = _c.alias("newer")
    return ~exists().where(
        newer.c.candidate_id == _c.c.candidate_id,
        newer.c.purpose == purpose,
        or_(
            newer.c.given_at > _c.c.given_at,
            and_(newer.c.given_at == _c.c.given_at, newer.c.id > _c.c.id),
        ),
    )


def _in_force(purpose: str, at: datetime) -> list[ColumnElement[bool]]:
    return [
        _c.c.purpose == purpose,
        _c.c.withdrawn_at.is_(None),
        _c.c.expires_at.is_not(None),
        _c.c.expires_at > at,
        _is_latest(purpose),
    ]


def _reachable() -> list[ColumnElement[bool]]:
    return [
        _cand.c.anonymized_at.is_(None),
        _cand.c.blocked_at.is_(None),
        _cand.c.email.is_not(None),
    ]


def _step_select(group: ScheduleGroup, step: int, at: datetime, max_messages: int) -> Any:
    """The consents due for `step` of this schedule at `at` (one statement)."""
    r = group.renewal
    base = [
        *_in_force(group.purpose, at),
        *_reachable(),
        # upper(): keeps planners off the candidate (country, status) index, so that they drive
        # from the narrow expiry range of consents and look each candidate up by id.
        func.upper(_cand.c.country).in_(group.countries),
        ~exists().where(_out.c.consent_id == _c.c.id, _out.c.step == step),
    ]
    # Every step follows the ask, and the ask is sent once the expiry is `ask` away: so every
    # step's consents expire within `ask` of now (what keeps each statement an index range).
    base.append(_c.c.expires_at <= add_duration(at, r.ask.amount, r.ask.unit))
    if step > 0:
        reminder = r.reminders[step - 1]
        ask = _out.alias("ask")
        asked = [ask.c.consent_id == _c.c.id, ask.c.step == 0, ask.c.status == "sent"]
        if reminder.relative_to == "ask":
            d = reminder.duration
            asked.append(ask.c.sent_at <= add_duration(at, -d.amount, d.unit))
        else:
            d = reminder.duration
            base.append(_c.c.expires_at <= add_duration(at, d.amount, d.unit))
        base.append(exists().where(*asked))
        recent = _out.alias("recent")
        base.append(
            ~exists().where(recent.c.consent_id == _c.c.id, recent.c.queued_at > at - ONE_A_DAY)
        )
        sent = _out.alias("sent")
        count = select(func.count()).where(sent.c.consent_id == _c.c.id).scalar_subquery()
        base.append(count < max_messages)
    return (
        select(
            _c.c.candidate_id,
            _c.c.id,
            _c.c.expires_at,
            _c.c.notice_hash,
            _cand.c.country,
            literal(step).label("step"),
        )
        .select_from(_c.join(_cand, _cand.c.id == _c.c.candidate_id))
        .where(*base)
    )


def select_due(
    conn: Connection, policy_set: PolicySet, at: datetime, settings: ConsentSettings
) -> list[DueMessage]:
    """Every message due at `at` under the schedules in force (set-based, one query per step)."""
    due: list[DueMessage] = []
    for group in schedule_groups(policy_set):
        claimed: set[int] = set()
        steps = range(0, min(len(group.renewal.reminders) + 1, settings.max_messages))
        for step in steps:
            for row in conn.execute(_step_select(group, step, at, settings.max_messages)):
                if row.id in claimed:
                    continue  # one message per consent and run: the later step waits a day
                claimed.add(row.id)
                due.append(
                    DueMessage(
                        row.candidate_id,
                        row.id,
                        group.purpose,
                        step,
                        row.country,
                        row.expires_at,
                        row.notice_hash,
                    )
                )
    return due


def _current_notices(conn: Connection) -> dict[tuple[str, str], str]:
    """The newest registered notice per (purpose, language): what a renewal asks agreement to."""
    n = _notice.c
    best: dict[tuple[str, str], tuple[datetime, str]] = {}
    for row in conn.execute(select(n.purpose, n.language, n.created_at, n.sha256)):
        key = (row.purpose, row.language)
        if key not in best or best[key][0] < row.created_at:
            best[key] = (row.created_at, row.sha256)
    return {k: v[1] for k, v in best.items()}


def _notice_languages(conn: Connection) -> dict[str, str]:
    return {
        r.sha256: r.language for r in conn.execute(select(_notice.c.sha256, _notice.c.language))
    }


def queue_due(
    conn: Connection, due: Sequence[DueMessage], at: datetime, settings: ConsentSettings
) -> int:
    """Queue `due` in the caller's transaction; a message already queued is skipped."""
    if not due:
        return 0
    current = _current_notices(conn)
    languages = _notice_languages(conn)
    rows = []
    for d in due:
        language = language_for(d.country, languages.get(d.notice_hash or ""))
        notice = current.get((d.purpose, language)) or current.get((d.purpose, "en"))
        link_expiry = min(at + timedelta(days=settings.link_days), d.expires_at)
        rows.append(
            {
                "id": uuid.uuid4(),
                "candidate_id": d.candidate_id,
                "consent_id": d.consent_id,
                "purpose": d.purpose,
                "step": d.step,
                "language": language,
                "notice_hash": notice or d.notice_hash,
                "status": MailStatus.QUEUED.value,
                "attempts": 0,
                "queued_at": at,
                "next_attempt_at": at,
                "link_expires_at": link_expiry,
            }
        )
    for chunk in range(0, len(rows), 5000):
        conn.execute(_out.insert(), rows[chunk : chunk + 5000])
    return len(rows)


def expire_due(conn: Connection, at: datetime, actor: str) -> int:
    """Record an `expired` event (and audit entry) for each latest consent whose expiry passed
    without a renewal or withdrawal, once; cancel its queued messages."""
    purposes = [
        p for (p,) in conn.execute(select(_c.c.purpose).distinct().where(_c.c.expires_at <= at))
    ]
    rows: list[Any] = []
    for purpose in purposes:
        rows += conn.execute(
            select(
                _c.c.id,
                _c.c.candidate_id,
                _c.c.purpose,
                _c.c.notice_version,
                _c.c.notice_hash,
                _c.c.expires_at,
            ).where(
                _c.c.purpose == purpose,
                _c.c.withdrawn_at.is_(None),
                _c.c.expires_at <= at,
                _is_latest(purpose),
                ~exists().where(_ev.c.consent_id == _c.c.id, _ev.c.kind == "expired"),
            )
        ).all()
    if not rows:
        return 0
    append_events(
        conn,
        [
            {
                "candidate_id": r.candidate_id,
                "consent_id": r.id,
                "renews": None,
                "purpose": r.purpose,
                "kind": ConsentEventKind.EXPIRED.value,
                "at": r.expires_at,
                "channel": "schedule",
                "method": "schedule",
                "notice_version": r.notice_version,
                "notice_hash": r.notice_hash,
                "valid_until": r.expires_at,
                "actor": actor,
            }
            for r in rows
        ],
    )
    ids = [r.id for r in rows]
    for chunk in range(0, len(ids), 5000):
        conn.execute(
            update(_out)
            .where(_out.c.consent_id.in_(ids[chunk : chunk + 5000]), _out.c.status == "queued")
            .values(status=MailStatus.CANCELLED.value, error="expired")
        )
    record(
        conn,
        *(
            Event(
                actor=actor,
                action="consent.expired",
                subject=r.candidate_id,
                details={"purpose": r.purpose, "consent": r.id, "notice_hash": r.notice_hash},
            )
            for r in rows
        ),
        at=at,
    )
    return len(rows)


# --- sending --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    id: uuid.UUID
    candidate_id: uuid.UUID
    consent_id: int
    purpose: str
    step: int
    language: str
    notice_hash: str | None
    attempts: int
    link_expires_at: datetime
    email: str | None
    first_name: str | None
    blocked: bool
    anonymized: bool
    expires_at: datetime | None
    withdrawn: bool
    latest: bool
    bad_hash: str | None


def _address_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def _claim(conn: Connection, at: datetime, limit: int) -> list[_Pending]:
    o = _out.c
    q = (
        select(o.id)
        .where(o.status == "queued", o.next_attempt_at <= at)
        .order_by(o.next_attempt_at, o.id)
        .limit(limit)
    )
    if is_postgresql(conn.engine):
        q = q.with_for_update(skip_locked=True)
    ids = list(conn.execute(q).scalars())
    if not ids:
        return []
    conn.execute(
        update(_out)
        .where(o.id.in_(ids))
        .values(next_attempt_at=at + CLAIM, attempts=o.attempts + 1)
    )
    newer = _c.alias("newer")
    latest = ~exists().where(
        newer.c.candidate_id == _c.c.candidate_id,
        newer.c.purpose == _c.c.purpose,
        or_(
            newer.c.given_at > _c.c.given_at,
            and_(newer.c.given_at == _c.c.given_at, newer.c.id > _c.c.id),
        ),
    )
    rows = conn.execute(
        select(
            o.id,
            o.candidate_id,
            o.consent_id,
            o.purpose,
            o.step,
            o.language,
            o.notice_hash,
            o.attempts,
            o.link_expires_at,
            _cand.c.email,
            _cand.c.first_name,
            _cand.c.blocked_at,
            _cand.c.anonymized_at,
            _c.c.expires_at,
            _c.c.withdrawn_at,
            latest.label("latest"),
            _bad.c.address_sha256,
        )
        .select_from(
            _out.join(_cand, _cand.c.id == o.candidate_id)
            .join(_c, _c.c.id == o.consent_id)
            .outerjoin(_bad, _bad.c.candidate_id == o.candidate_id)
        )
        .where(o.id.in_(ids))
        .order_by(o.next_attempt_at, o.id)
    ).all()
    return [
        _Pending(
            r.id,
            r.candidate_id,
            r.consent_id,
            r.purpose,
            r.step,
            r.language,
            r.notice_hash,
            r.attempts,
            r.link_expires_at,
            r.email,
            r.first_name,
            r.blocked_at is not None,
            r.anonymized_at is not None,
            r.expires_at,
            r.withdrawn_at is not None,
            bool(r.latest),
            r.address_sha256,
        )
        for r in rows
    ]


def _cancel_reason(p: _Pending, at: datetime) -> str | None:
    if p.anonymized or p.blocked or not p.email:
        return "unreachable"
    if p.withdrawn or not p.latest:
        return "answered"
    if p.expires_at is None or p.expires_at <= at or p.link_expires_at <= at:
        return "expired"
    return None


def _message(p: _Pending, sender: str, link: str, controller: str) -> Message:
    """The message as MIME (text and HTML alternatives, UTF-8). Built with the legacy
    `email.mime` classes: the header registry of `EmailMessage` costs more than the SMTP
    exchange itself, and these headers need none of its parsing."""
    assert p.email is not None and p.expires_at is not None
    email = render_email(
        language=p.language,
        name=p.first_name or "",
        purpose=p.purpose,
        expires_at=p.expires_at,
        link=link,
        controller=controller,
        reminder=p.step > 0,
    )
    msg = MIMEMultipart("alternative")
    msg["From"] = sender
    msg["To"] = p.email
    msg["Subject"] = Header(email.subject, "utf-8", header_name="Subject")  # type: ignore[assignment]
    msg["Message-ID"] = f"<{p.id.hex}@{sender.rsplit('@', 1)[-1]}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = p.language
    msg.attach(MIMEText(email.text, "plain", "utf-8"))
    msg.attach(MIMEText(email.html, "html", "utf-8"))
    return msg


@dataclass(frozen=True)
class _Outcome:
    pending: _Pending
    status: MailStatus
    error: str | None = None
    retry_at: datetime | None = None


def _record(
    conn: Connection,
    outcomes: Sequence[_Outcome],
    at: datetime,
    actor: str,
    counts: CampaignCounts,
) -> None:
    events: list[dict[str, Any]] = []
    audit: list[Event] = []
    versions = {
        r.sha256: r.version for r in conn.execute(select(_notice.c.sha256, _notice.c.version))
    }
    # Outcomes that set the same values share one UPDATE (a batch is mostly "sent").
    groups: dict[tuple[tuple[str, Any], ...], list[uuid.UUID]] = {}
    for o in outcomes:
        p = o.pending
        values: dict[str, Any] = {"status": o.status.value, "error": o.error}
        if o.status is MailStatus.SENT:
            values["sent_at"] = at
            counts.sent += 1
            counts.by_step[p.step] = counts.by_step.get(p.step, 0) + 1
            method = "renewal-ask" if p.step == 0 else "renewal-reminder"
            events.append(
                {
                    "candidate_id": p.candidate_id,
                    "consent_id": p.consent_id,
                    "renews": None,
                    "purpose": p.purpose,
                    "kind": ConsentEventKind.REQUESTED.value,
                    "at": at,
                    "channel": "email",
                    "method": method,
                    "notice_version": versions.get(p.notice_hash or ""),
                    "notice_hash": p.notice_hash,
                    "valid_until": p.expires_at,
                    "actor": actor,
                }
            )
            audit.append(
                Event(
                    actor=actor,
                    action="consent.renewal_requested",
                    subject=p.candidate_id,
                    details={
                        "purpose": p.purpose,
                        "consent": p.consent_id,
                        "notice_hash": p.notice_hash,
                        "step": p.step,
                        "message": str(p.id),
                    },
                )
            )
        elif o.status is MailStatus.QUEUED:
            values["next_attempt_at"] = o.retry_at
            counts.retried += 1
        elif o.status is MailStatus.UNDELIVERABLE:
            counts.undeliverable += 1
        elif o.status is MailStatus.FAILED:
            counts.failed += 1
        else:
            counts.cancelled += 1
        groups.setdefault(tuple(sorted(values.items())), []).append(p.id)
        if o.status is MailStatus.UNDELIVERABLE and p.email and o.error != "known-undeliverable":
            conn.execute(_bad.delete().where(_bad.c.candidate_id == p.candidate_id))
            conn.execute(
                _bad.insert().values(
                    candidate_id=p.candidate_id,
                    address_sha256=_address_hash(p.email),
                    at=at,
                    error=o.error or "permanent",
                )
            )
    for key, ids in groups.items():
        conn.execute(update(_out).where(_out.c.id.in_(ids)).values(**dict(key)))
    append_events(conn, events)
    if audit:
        record(conn, *audit, at=at)


def send_queued(
    engine: Engine,
    session: SmtpSession | None,
    keys: LinkKeys,
    *,
    public_url: str,
    sender: str,
    settings: ConsentSettings,
    actor: str,
    clock: Callable[[], datetime],
    counts: CampaignCounts,
    batch: int = BATCH,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Send every queued message that is due, batch by batch, until none is left.

    `session` None is a dry run's sender: nothing is claimed or sent.
    """
    if session is None:
        return
    while not stop():
        at = clock()
        with transaction(engine) as conn:
            claimed = _claim(conn, at, batch)
        if not claimed:
            return
        outcomes: list[_Outcome] = []
        server_down = False
        for p in claimed:
            reason = _cancel_reason(p, at)
            if reason is not None:
                outcomes.append(_Outcome(p, MailStatus.CANCELLED, reason))
                continue
            assert p.email is not None
            if p.bad_hash is not None and p.bad_hash == _address_hash(p.email):
                outcomes.append(_Outcome(p, MailStatus.UNDELIVERABLE, "known-undeliverable"))
                continue
            if server_down:
                result = SendResult(Delivery.TEMPORARY, "not-tried")
            else:
                link = answer_url(public_url, keys.token(p.id, p.link_expires_at))
                result = session.send(
                    _message(p, sender, link, settings.controller), sender, p.email
                )
                if result.delivery is Delivery.TEMPORARY and not (result.error or "").startswith(
                    "smtp-"
                ):
                    server_down = True  # refused, timed out, dropped: leave the rest for later
            outcomes.append(_outcome(p, result, at, settings))
        with transaction(engine) as conn:
            _record(conn, outcomes, clock(), actor, counts)
        if server_down:
            return


def _outcome(p: _Pending, result: SendResult, at: datetime, settings: ConsentSettings) -> _Outcome:
    if result.delivery is Delivery.SENT:
        return _Outcome(p, MailStatus.SENT)
    if result.delivery is Delivery.PERMANENT:
        return _Outcome(p, MailStatus.UNDELIVERABLE, result.error)
    if p.attempts >= settings.send_attempts:
        return _Outcome(p, MailStatus.FAILED, result.error)
    delay = timedelta(minutes=settings.retry_minutes * 2 ** (p.attempts - 1))
    return _Outcome(p, MailStatus.QUEUED, result.error, at + delay)


def renewal_expiry(
    policy_set: PolicySet, country: str, purpose: str, at: datetime
) -> datetime | None:
    """When a consent renewed at `at` expires under the candidate's jurisdiction's schedule."""
    policy = policy_set.policy_for(country)
    renewal = None if policy is None else policy.renewal_for(purpose)
    return None if renewal is None else expiry_after(renewal, at)


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
