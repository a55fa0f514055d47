"""The consent lifecycle's tables: notices, the appended consent events, the mail outbox.

Created by migration 0010_consent. `consent` (in `subject_tables`) stays the derived current state
the policy language and the sweep read: every change to it is made in the transaction that appends
the `consent_event` explaining it, and events are never updated (a trigger refuses it). None of
these tables holds an address or a name: the outbox refers to a candidate by UUID and renders the
message from the candidate row when it sends; `mail_undeliverable` keeps only a SHA-256 of the
address that bounced, so a changed address is tried again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlmodel import Field, SQLModel

from retention.clock import utc_now
from retention.store.engine import TZDateTime

__all__ = [
    "ConsentEvent",
    "ConsentEventKind",
    "MailOutbox",
    "MailStatus",
    "MailUndeliverable",
    "Notice",
]


class ConsentEventKind(StrEnum):
    REQUESTED = "requested"
    GIVEN = "given"
    RENEWED = "renewed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class MailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # gave up after the configured attempts (temporary failures)
    UNDELIVERABLE = "undeliverable"  # a permanent SMTP failure, or the address is known bad
    CANCELLED = "cancelled"  # answered, withdrawn, erased or no address before it was sent


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Notice(SQLModel, table=True):
    """The exact text of a privacy notice for a purpose, version and language, with its SHA-256."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("purpose", "version", "language", name="uq_notice_version_language"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    purpose: str = Field(max_length=64)
    version: str = Field(max_length=64)
    language: str = Field(max_length=8)
    sha256: str = Field(max_length=64, index=True)
    text: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utc_now, sa_type=TZDateTime, nullable=False)
    created_by: str = Field(max_length=200)


class ConsentEvent(SQLModel, table=True):
    """One thing that happened to a consent, appended and never updated (Art. 7(1) evidence).

    `consent_id` is the consent row the event is about: for `renewed` and `given` the row it
    created, with `renews` naming the row a renewal replaced.
    """

    __tablename__ = "consent_event"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(ConsentEventKind)})", name="ck_consent_event_kind"),
        Index("ix_consent_event_candidate", "candidate_id", "purpose", "at"),
        Index("ix_consent_event_consent", "consent_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("candidate.id", ondelete="CASCADE"), nullable=False)
    )
    consent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("consent.id", ondelete="CASCADE"), nullable=True),
    )
    renews: int | None = Field(default=None)
    purpose: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    at: datetime = Field(sa_type=TZDateTime, nullable=False)
    channel: str = Field(max_length=64)
    method: str = Field(max_length=64)
    notice_version: str | None = Field(default=None, max_length=64)
    notice_hash: str | None = Field(default=None, max_length=64)
    valid_until: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    actor: str = Field(max_length=200)


class MailOutbox(SQLModel, table=True):
    """One renewal message (an ask or a reminder) for one consent; `id` is also its link's id.

    Unique per (consent, step): queuing twice queues nothing twice, and a reminder already sent
    is never sent again.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (
        UniqueConstraint("consent_id", "step", name="uq_mail_outbox_consent_step"),
        CheckConstraint(f"status IN ({_in(MailStatus)})", name="ck_mail_outbox_status"),
        Index("ix_mail_outbox_status", "status", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    candidate_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("candidate.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    consent_id: int = Field(
        sa_column=Column(Integer, ForeignKey("consent.id", ondelete="CASCADE"), nullable=False)
    )
    purpose: str = Field(max_length=64)
    step: int  # 0: the ask; 1, 2, ...: the reminders in schedule order
    language: str = Field(max_length=8)
    notice_hash: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    attempts: int = Field(default=0)
    queued_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    next_attempt_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    link_expires_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    answered_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    error: str | None = Field(default=None, max_length=64)  # an SMTP code or an error class


class MailUndeliverable(SQLModel, table=True):
    """A candidate's address that failed permanently (by hash: a new address is tried again)."""

    __tablename__ = "mail_undeliverable"

    candidate_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("candidate.id", ondelete="CASCADE"), primary_key=True)
    )
    address_sha256: str = Field(max_length=64)
    at: datetime = Field(sa_type=TZDateTime, nullable=False)
    error: str = Field(max_length=64)
