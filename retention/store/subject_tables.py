"""The data subjects and what the engine holds about them, as SQLModel tables.

Tables are created only by the alembic migrations in `retention/migrations`; these classes are the
ORM view of them (single-record work) and the column source for set-based Core statements (bulk
work). A test compares them with the migrations so the two never drift. Personal data lives only in
the columns marked below; everything else (UUIDs, countries, statuses, instants) is what the audit
log, statistics and evidence may carry.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Uuid, column, func, text
from sqlmodel import Field, SQLModel

from retention.clock import utc_now
from retention.store.engine import TZDateTime

__all__ = [
    "PERSONAL_COLUMNS",
    "Application",
    "Candidate",
    "CandidateStatus",
    "Consent",
    "Document",
    "LegalHold",
]


class CandidateStatus(StrEnum):
    IN_PROCESS = "in_process"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    HIRED = "hired"


def _ts() -> Any:
    return Field(default=None, sa_type=TZDateTime, nullable=True)


def _statuses_sql() -> str:
    return ", ".join(f"'{s.value}'" for s in CandidateStatus)


class Candidate(SQLModel, table=True):
    """A data subject: one person who applied, referred to everywhere else by `id` only."""

    __tablename__ = "candidate"
    __table_args__ = (
        CheckConstraint(f"status IN ({_statuses_sql()})", name="ck_candidate_status"),
        CheckConstraint("length(country) = 2", name="ck_candidate_country"),
        Index("ix_candidate_country_status", "country", "status"),
        # The one index on personal data: `gdpr find --email` compares lower-cased addresses,
        # and only of subjects not anonymized (a placeholder address finds no one). Dates are
        # not indexed: no query seeks by them (the policy selection reads every row), and each
        # such index cost the sweep a random page write per subject anonymized.
        Index(
            "ix_candidate_email_lower",
            func.lower(column("email")),
            sqlite_where=text("anonymized_at IS NULL"),
            postgresql_where=text("anonymized_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    external_ref: str | None = Field(default=None, max_length=128, unique=True)
    country: str = Field(max_length=2)
    status: str = Field(max_length=16)
    # Personal data (PERSONAL_COLUMNS): never logged, audited or put in an error message.
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None)
    applied_at: datetime | None = _ts()
    decided_at: datetime | None = _ts()
    last_activity_at: datetime | None = _ts()
    anonymized_at: datetime | None = _ts()
    blocked_at: datetime | None = _ts()
    created_at: datetime = Field(default_factory=utc_now, sa_type=TZDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=TZDateTime, nullable=False)


PERSONAL_COLUMNS: tuple[str, ...] = ("first_name", "last_name", "email", "phone", "city", "notes")


def _candidate_fk() -> Column[uuid.UUID]:
    return Column(Uuid, ForeignKey("candidate.id", ondelete="CASCADE"), nullable=False, index=True)


class Application(SQLModel, table=True):
    """One application of a candidate to one position."""

    __tablename__ = "application"

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: uuid.UUID = Field(sa_column=_candidate_fk())
    position: str = Field(max_length=200)
    status: str = Field(max_length=16)
    applied_at: datetime | None = _ts()
    decided_at: datetime | None = _ts()


class Document(SQLModel, table=True):
    """A file in the document store (`<data dir>/documents/<id>`), known by hash and size.

    The file name of the upload is not kept: it often holds the candidate's name.
    """

    __tablename__ = "document"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    candidate_id: uuid.UUID = Field(sa_column=_candidate_fk())
    kind: str = Field(max_length=32)
    media_type: str = Field(max_length=100)
    sha256: str = Field(max_length=64)
    size: int
    created_at: datetime = Field(default_factory=utc_now, sa_type=TZDateTime, nullable=False)


class Consent(SQLModel, table=True):
    """One consent event for one purpose (GDPR Art. 7(1): the controller must demonstrate it).

    Renewals are new rows; for a purpose, the consent given last is the one that counts. The
    row is the current state derived from the appended `consent_event`s (`retention.consent`):
    each change to it commits with the event that explains it.
    """

    __tablename__ = "consent"
    __table_args__ = (
        Index("ix_consent_candidate_purpose", "candidate_id", "purpose", "given_at"),
        # Renewal campaigns and expiries select by expiry (a narrow range of a large table).
        # Not (purpose, expires_at): with `purpose` leading, PostgreSQL without statistics
        # preferred it for the sweep's per-subject consent join and scanned every consent.
        Index("ix_consent_expires_at", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("candidate.id", ondelete="CASCADE"), nullable=False)
    )
    purpose: str = Field(max_length=64)
    notice_version: str = Field(max_length=64)
    # The SHA-256 of the notice text it was given under (`notice`); NULL for consents recorded
    # before notices were registered, or under a version never registered.
    notice_hash: str | None = Field(default=None, max_length=64)
    channel: str = Field(max_length=64)
    given_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    expires_at: datetime | None = _ts()
    withdrawn_at: datetime | None = _ts()


class LegalHold(SQLModel, table=True):
    """A legal hold suspends every retention action on its subject while it is active.

    `subject_id` is deliberately not a foreign key: the hold's record (a UUID, a case reference,
    who placed and released it) outlives the subject for the evidence an auditor asks for.
    """

    __tablename__ = "legal_hold"
    __table_args__ = (Index("ix_legal_hold_subject_active", "subject_id", "released_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    subject_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    case_ref: str = Field(sa_type=String(200))
    reason: str = Field(sa_type=String(1000))
    placed_by: str = Field(max_length=200)
    placed_at: datetime = Field(default_factory=utc_now, sa_type=TZDateTime, nullable=False)
    released_at: datetime | None = _ts()
    released_by: str | None = Field(default=None, max_length=200)
    release_reason: str | None = Field(default=None, sa_type=String(1000))
