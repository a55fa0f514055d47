"""The tables the sweep works with: its runs, its lease, file deletions pending, the review queue.

They sit beside the subject tables of `retention.store.subject_tables` and are created by migration 0004_sweep
(`sweep_item` in the form 0005 re-created it in). None of them holds personal data: subjects
appear by UUID, documents by id. `subject_id` columns are deliberately not foreign keys, as in
`legal_hold`: a review decision and a run's record outlive the subject they were about, for the
evidence an auditor asks for.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, String, Text, Uuid, text
from sqlmodel import Field, SQLModel

from retention.store.engine import TZDateTime

__all__ = [
    "PendingDeletion",
    "ReviewDecision",
    "ReviewItem",
    "RunStatus",
    "SweepItem",
    "SweepLease",
    "SweepRun",
]


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"  # asked to stop (SIGTERM, --limit reached) after a whole batch
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process died; a later run finished the work


class ReviewDecision(StrEnum):
    ANONYMIZE = "anonymize"
    DELETE = "delete"
    KEEP = "keep"


class SweepRun(SQLModel, table=True):
    """One execution of the sweep: what it evaluated against, how far it got, what it did."""

    __tablename__ = "retention_run"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    owner: str = Field(max_length=200)
    actor: str = Field(max_length=200)
    status: str = Field(max_length=16, index=True)
    evaluated_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    started_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    policy_hash: str = Field(max_length=64)
    country: str | None = Field(default=None, max_length=2)
    subject_limit: int | None = Field(default=None)
    # Progress: the last subject id a committed batch handled (in work-list order).
    cursor: str | None = Field(default=None, max_length=36)
    batches: int = Field(default=0)
    anonymized: int = Field(default=0)
    deleted: int = Field(default=0)
    blocked: int = Field(default=0)
    reviewed: int = Field(default=0)
    files_removed: int = Field(default=0)
    resumes: uuid.UUID | None = Field(default=None, sa_type=Uuid, nullable=True)
    error: str | None = Field(default=None, sa_type=Text)


class SweepLease(SQLModel, table=True):
    """A named lease: who may sweep now, until when. Renewed in every batch's transaction."""

    __tablename__ = "sweep_lease"

    name: str = Field(max_length=64, primary_key=True)
    owner: str | None = Field(default=None, max_length=200)
    run_id: uuid.UUID | None = Field(default=None, sa_type=Uuid, nullable=True)
    acquired_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    expires_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)


class SweepItem(SQLModel, table=True):
    """A subject a run found due and has not handled yet: the run's durable work list.

    The due set is selected once, set-based, into this table; batches then take items in
    `position` order and delete them in the transaction that acts, so what remains is exactly the
    work left. `position` numbers the subjects in the storage order of their rows at selection
    time, so that a batch touches contiguous table pages (ids are random UUIDs: in id order, a
    batch touched a different page for nearly every subject). It is only a locality hint: a row
    moved since then is still found by its id.
    """

    __tablename__ = "sweep_item"

    run_id: uuid.UUID = Field(sa_type=Uuid, primary_key=True)
    position: int = Field(sa_type=BigInteger, primary_key=True)
    subject_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)


class PendingDeletion(SQLModel, table=True):
    """A document file to unlink once the transaction that dropped its row has committed."""

    __tablename__ = "pending_deletion"

    document_id: uuid.UUID = Field(sa_type=Uuid, primary_key=True)
    run_id: uuid.UUID | None = Field(default=None, sa_type=Uuid, nullable=True)
    queued_at: datetime = Field(sa_type=TZDateTime, nullable=False)


class ReviewItem(SQLModel, table=True):
    """A subject a rule sent to a person; open until a DPO decides."""

    __tablename__ = "review_item"
    __table_args__ = (
        # One open item per subject, even with two writers racing.
        Index(
            "ux_review_item_open",
            "subject_id",
            unique=True,
            sqlite_where=text("decided_at IS NULL"),
            postgresql_where=text("decided_at IS NULL"),
        ),
        Index("ix_review_item_subject", "subject_id", "decided_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    subject_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    country: str = Field(max_length=2)
    policy: str = Field(max_length=64)
    rule: str = Field(max_length=128)
    cite: str | None = Field(default=None, sa_type=String(500))
    policy_hash: str = Field(max_length=64)
    run_id: uuid.UUID | None = Field(default=None, sa_type=Uuid, nullable=True)
    queued_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    decided_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    decided_by: str | None = Field(default=None, max_length=200)
    decision: str | None = Field(default=None, max_length=16)
    keep_until: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    reason: str | None = Field(default=None, sa_type=String(1000))
