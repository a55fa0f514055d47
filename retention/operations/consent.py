"""The consent lifecycle as front ends ask for it: notices, receipts, campaigns, the report, and
the candidate's answer page.

Notices need policy:manage to add (reading them only needs a principal: they are public text).
A receipt reads the subject's consents through the audited gateway (candidate:read). A campaign
needs consent:campaign everywhere; its expiries, queue and sends each commit with their audit
entries. The report is counts (audit:read). The answer page is public: the signed link is the
credential, so those two operations take no principal, and every check that fails gives the same
neutral page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from audit_log import Event, Verifier
from retention.access import Permission, PrincipalView, check_permission, guarded, require
from retention.audit import engine_errors, load_signer, load_verifier
from retention.clock import Clock, utc_now
from retention.consent import (
    ANSWER_PATH,
    LANGUAGES,
    AnswerPage,
    CampaignCounts,
    LinkKeys,
    NoticeView,
    ReceiptCheck,
    ReceiptInput,
    RenewalFigures,
    SmtpSession,
    add_notice,
    answer_link,
    build_documents,
    expire_due,
    get_notice,
    language_for,
    list_notices,
    new_csrf_nonce,
    open_link,
    queue_due,
    renewal_figures,
    select_due,
    send_queued,
    sign_receipt,
    verify_receipt,
)
from retention.errors import BadInput, InstallationError
from retention.install import Installation, load_installation_policies
from retention.operations.subjects import gateway_for
from retention.results import JSONData
from retention.store import (
    Consent,
    ConsentEvent,
    Notice,
    record,
    table_of,
    transaction,
)
from retention.subjects.gateway import SubjectWork

__all__ = [
    "ANSWER_PATH",
    "CONSENT_LANGUAGES",
    "AddNotice",
    "AnswerConsent",
    "AnswerPage",
    "CampaignResult",
    "ConsentReceipt",
    "ConsentReport",
    "ListNotices",
    "OpenConsentLink",
    "ReceiptWritten",
    "RunCampaign",
    "ShowNotice",
    "VerifyReceipt",
    "add_consent_notice",
    "answer_consent",
    "consent_receipt",
    "consent_report",
    "list_consent_notices",
    "new_csrf_nonce",
    "open_consent_link",
    "run_campaign",
    "show_consent_notice",
    "verify_consent_receipt",
]


CONSENT_LANGUAGES = LANGUAGES


# --- notices ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddNotice:
    purpose: str
    version: str
    language: str
    data: bytes  # the file's bytes, exactly


@dataclass(frozen=True)
class ListNotices:
    purpose: str | None = None


@dataclass(frozen=True)
class ShowNotice:
    purpose: str
    version: str
    language: str


def add_consent_notice(
    installation: Installation,
    principal: PrincipalView,
    request: AddNotice,
    *,
    clock: Clock = utc_now,
) -> NoticeView:
    """Store a notice's exact text and SHA-256 (policy:manage); audited `notice.add`."""

    def work(conn: Connection) -> NoticeView:
        at = clock()
        decision = require(conn, principal.id, Permission.POLICY_MANAGE, at=at, action="notice.add")
        view = add_notice(
            conn,
            purpose=request.purpose,
            version=request.version,
            language=request.language,
            data=request.data,
            actor=str(principal.id),
            at=at,
        )
        record(
            conn,
            Event(
                actor=str(principal.id),
                action="notice.add",
                details={
                    "allowed_by": str(decision.grant_id),
                    "purpose": view.purpose,
                    "version": view.version,
                    "language": view.language,
                    "sha256": view.sha256,
                },
            ),
            at=at,
        )
        return view

    return guarded(installation.engine, work)


def list_consent_notices(
    installation: Installation,
    principal: PrincipalView,
    request: ListNotices,
    *,
    clock: Clock = utc_now,
) -> list[NoticeView]:
    """The registered notices (without their text)."""
    with transaction(installation.engine) as conn:
        return list_notices(conn, request.purpose)


def show_consent_notice(
    installation: Installation,
    principal: PrincipalView,
    request: ShowNotice,
    *,
    clock: Clock = utc_now,
) -> NoticeView:
    """One notice with its exact text."""
    with transaction(installation.engine) as conn:
        return get_notice(conn, request.purpose, request.version, request.language)


# --- receipts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentReceipt:
    subject_id: uuid.UUID
    purpose: str
    out: Path


@dataclass(frozen=True)
class ReceiptWritten:
    subject: uuid.UUID
    purpose: str
    path: Path
    events: int
    key: str

    def to_json(self) -> JSONData:
        return {
            "subject": str(self.subject),
            "purpose": self.purpose,
            "path": str(self.path),
            "events": self.events,
            "key": self.key,
        }


def _retention_text(installation: Installation, country: str, purpose: str) -> str:
    policy_set = load_installation_policies(installation.config)
    policy = policy_set.policy_for(country)
    renewal = None if policy is None else policy.renewal_for(purpose)
    if policy is None or renewal is None:
        return "until the consent expires or is withdrawn, per the retention policy in force"
    return (
        f"consent lasts {renewal.lasts.text()} (policy {policy.name}; {renewal.cite}); "
        "without renewal it expires and the data are deleted per the retention rules"
    )


def _row_events(
    conn: Connection, subject_id: uuid.UUID, purpose: str, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Events for consent rows recorded before the history existed (or loaded in bulk): a
    `given` (and `withdrawn`) event derived from the row, marked by its method."""
    c = table_of(Consent)
    explained = {(e["consent_id"], e["kind"]) for e in events}
    out: list[dict[str, Any]] = []
    for row in conn.execute(
        select(c).where(c.c.candidate_id == subject_id, c.c.purpose == purpose)
    ):
        base = {
            "id": None,
            "candidate_id": subject_id,
            "consent_id": row.id,
            "renews": None,
            "purpose": purpose,
            "channel": row.channel,
            "method": "derived from the consent row (recorded before the event history)",
            "notice_version": row.notice_version,
            "notice_hash": row.notice_hash,
            "actor": "engine",
        }
        if not {(row.id, "given"), (row.id, "renewed")} & explained:
            out.append({**base, "kind": "given", "at": row.given_at, "valid_until": row.expires_at})
        if row.withdrawn_at is not None and (row.id, "withdrawn") not in explained:
            out.append({**base, "kind": "withdrawn", "at": row.withdrawn_at, "valid_until": None})
    return out


def consent_receipt(
    installation: Installation,
    principal: PrincipalView,
    request: ConsentReceipt,
    *,
    clock: Clock = utc_now,
) -> ReceiptWritten:
    """Write the subject's signed ISO/IEC TS 27560 record and Kantara receipt (candidate:read)."""
    signer = load_signer(installation.config)
    if request.out.exists():
        raise BadInput(f"{request.out} exists; choose a new file")
    gateway = gateway_for(installation, principal, clock=clock)
    ev = table_of(ConsentEvent)
    n = table_of(Notice)

    def work(conn: Connection, subject: Any, at: datetime) -> SubjectWork[dict[str, Any]]:
        events = [
            dict(r._mapping)
            for r in conn.execute(
                select(ev)
                .where(ev.c.candidate_id == subject.id, ev.c.purpose == request.purpose)
                .order_by(ev.c.at, ev.c.id)
            )
        ]
        events = sorted(
            events + _row_events(conn, subject.id, request.purpose, events),
            key=lambda e: (e["at"], e["id"] if e["id"] is not None else 0),
        )
        if not events:
            raise BadInput(f"subject {subject.id} has no consent for {request.purpose}")
        shown = [e for e in events if e["kind"] in ("given", "renewed")] or events
        last = shown[-1]
        notice = None
        if last["notice_hash"]:
            notice = conn.execute(
                select(n.c.language).where(n.c.sha256 == last["notice_hash"]).limit(1)
            ).one_or_none()
        language = language_for(subject.country, notice.language if notice else None)
        data = ReceiptInput(
            subject=subject.id,
            purpose=request.purpose,
            jurisdiction=subject.country,
            language=language,
            notice_version=last["notice_version"] or "",
            notice_hash=last["notice_hash"],
            notice_language=notice.language if notice else None,
            retention=_retention_text(installation, subject.country, request.purpose),
            events=events,
            created_at=at,
        )
        docs = build_documents(data, installation.config.consent, signer.verifier)
        return SubjectWork(
            {"file": sign_receipt(docs, signer), "events": len(events)},
            {"purpose": request.purpose, "events": len(events)},
        )

    done = gateway.on_subject(
        request.subject_id, Permission.CANDIDATE_READ, "consent.receipt", work
    )
    write_receipt(request.out, done["file"])
    return ReceiptWritten(
        request.subject_id, request.purpose, request.out, done["events"], str(signer.verifier)
    )


def write_receipt(path: Path, document: dict[str, Any]) -> None:
    """Create the receipt file (never replace one); it holds personal data: 0600."""
    import json
    import os

    data = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BadInput(f"{path} exists; choose a new file") from None
    except OSError as exc:
        raise BadInput(f"cannot create {path} ({exc.strerror})") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


@dataclass(frozen=True)
class VerifyReceipt:
    path: Path
    key_file: Path | None = None


def verify_consent_receipt(
    installation: Installation | None, request: VerifyReceipt
) -> ReceiptCheck:
    """Verify a receipt offline: with `key_file` (the verifier key in note format), or the
    installation's verifier key. Needs no database and no principal."""
    try:
        data = request.path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {request.path} ({exc.strerror})") from None
    verifier: Verifier
    if request.key_file is not None:
        try:
            text = request.key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise BadInput(f"cannot read verifier key {request.key_file}") from None
        with engine_errors():
            verifier = Verifier.from_string(text)
    elif installation is not None:
        verifier = load_verifier(installation.config)
    else:
        raise InstallationError("give --key (the verifier key) or run inside an installation")
    return verify_receipt(data, verifier)


# --- campaigns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunCampaign:
    dry_run: bool = False


@dataclass(frozen=True)
class CampaignResult:
    dry_run: bool
    counts: CampaignCounts
    mail_configured: bool
    connections: int = 0
    due: list[dict[str, Any]] = field(default_factory=list)  # dry run: what would be sent

    def to_json(self) -> JSONData:
        return {
            "dry_run": self.dry_run,
            "mail_configured": self.mail_configured,
            "smtp_connections": self.connections,
            **self.counts.to_json(),
        }


def link_keys(installation: Installation) -> LinkKeys:
    return LinkKeys(load_signer(installation.config))


def run_campaign(
    installation: Installation,
    principal: PrincipalView,
    request: RunCampaign,
    *,
    clock: Clock = utc_now,
    stop: Any = None,
) -> CampaignResult:
    """Expire, select, queue and send the renewal messages due now (consent:campaign).

    A dry run changes nothing and sends nothing: it reports what would be queued. Without
    `[mail]` expiries are still recorded, but nothing is queued (there is no way to send it).
    """
    config = installation.config
    at = clock()
    decision = check_permission(
        installation.engine,
        principal.id,
        Permission.CONSENT_CAMPAIGN,
        action="consent.campaign",
        at=at,
    )
    mail = config.mail
    if mail is not None and config.public_url is None:
        raise BadInput("renewal links need [api] public_url in gdpr.toml")
    policy_set = load_installation_policies(config)
    counts = CampaignCounts()
    actor = str(principal.id)
    if request.dry_run:
        with transaction(installation.engine) as conn:
            due = select_due(conn, policy_set, at, config.consent)
            conn.rollback()
        counts.selected = len(due)
        for d in due:
            counts.by_step[d.step] = counts.by_step.get(d.step, 0) + 1
        return CampaignResult(True, counts, mail is not None)
    keys = link_keys(installation) if mail is not None else None
    with transaction(installation.engine) as conn:
        counts.expired = expire_due(conn, at, actor)
        if mail is not None:
            due = select_due(conn, policy_set, at, config.consent)
            counts.selected = len(due)
            counts.queued = queue_due(conn, due, at, config.consent)
        record(
            conn,
            Event(
                actor=actor,
                action="consent.campaign",
                details={
                    "allowed_by": str(decision.grant_id),
                    "expired": counts.expired,
                    "queued": counts.queued,
                },
            ),
            at=at,
        )
    connections = 0
    if mail is not None and keys is not None and config.public_url is not None:
        with SmtpSession(mail) as session:
            send_queued(
                installation.engine,
                session,
                keys,
                public_url=config.public_url,
                sender=mail.sender,
                settings=config.consent,
                actor=actor,
                clock=clock,
                counts=counts,
                stop=(lambda: stop.is_set()) if stop is not None else (lambda: False),
            )
            connections = session.connections
    return CampaignResult(False, counts, mail is not None, connections)


# --- report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentReport:
    country: str | None = None


def consent_report(
    installation: Installation,
    principal: PrincipalView,
    request: ConsentReport,
    *,
    clock: Clock = utc_now,
) -> list[RenewalFigures]:
    """Renewal figures per country and purpose (audit:read): counts, no subject named."""
    at = clock()
    check_permission(
        installation.engine,
        principal.id,
        Permission.AUDIT_READ,
        action="consent.report",
        country=request.country,
        at=at,
    )
    with transaction(installation.engine) as conn:
        return renewal_figures(conn, at, country=request.country)


# --- the public answer page ----------------------------------------------------------------------


@dataclass(frozen=True)
class OpenConsentLink:
    token: str
    csrf_nonce: str  # the value the front end puts in the page's SameSite=Strict cookie
    action: str  # the form's target (the same URL)
    visitor_language: str = "en"


@dataclass(frozen=True)
class AnswerConsent:
    token: str
    answer: str  # renew | withdraw
    csrf_nonce: str | None
    csrf: str | None
    visitor_language: str = "en"


def open_consent_link(
    installation: Installation, request: OpenConsentLink, *, clock: Clock = utc_now
) -> AnswerPage:
    """The answer page for a link (public: the link is the credential)."""
    return open_link(
        installation.engine,
        link_keys(installation),
        request.token,
        csrf_nonce=request.csrf_nonce,
        action=request.action,
        visitor_language=request.visitor_language,
        at=clock(),
    )


def answer_consent(
    installation: Installation, request: AnswerConsent, *, clock: Clock = utc_now
) -> AnswerPage:
    """Apply the candidate's renew or withdraw answer (public: the link is the credential)."""
    return answer_link(
        installation.engine,
        link_keys(installation),
        load_installation_policies(installation.config),
        request.token,
        answer=request.answer,
        csrf_nonce=request.csrf_nonce,
        csrf=request.csrf,
        visitor_language=request.visitor_language,
        at=clock(),
    )
