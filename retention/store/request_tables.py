"""The register of data-subject requests (GDPR Art. 15-21): requests and their appended events.

Created by migration 0009_requests. A request refers to its subject by UUID and is not a foreign
key: the register outlives an erasure it answered, for the evidence an auditor asks for. It holds
personal data of its own in the columns marked below (the requester's contact, the identity check),
and so has its own retention (`[requests] keep_closed`, applied by the nightly sweep). Events are
only ever inserted; a request row carries the current state that the events lead to.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, Uuid
from sqlmodel import Field, SQLModel

from retention.store.engine import TZDateTime

__all__ = [
    "REQUEST_PERSONAL_COLUMNS",
    "DataRequest",
    "RequestEvent",
    "RequestStatus",
    "RequestType",
]


class RequestType(StrEnum):
    ACCESS = "access"  # Art. 15
    RECTIFICATION = "rectification"  # Art. 16
    ERASURE = "erasure"  # Art. 17
    RESTRICTION = "restriction"  # Art. 18
    PORTABILITY = "portability"  # Art. 20
    OBJECTION = "objection"  # Art. 21


class RequestStatus(StrEnum):
    OPEN = "open"  # received, identity not yet confirmed
    VERIFIED = "verified"  # identity confirmed: it can be fulfilled
    PAUSED = "paused"  # waiting on the requester (the deadline does not move)
    FULFILLED = "fulfilled"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


def _in(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{m.value}'" for m in enum)


def _ts(nullable: bool = True) -> datetime | None:
    return Field(default=None, sa_type=TZDateTime, nullable=nullable)  # type: ignore[no-any-return]


class DataRequest(SQLModel, table=True):
    """One request of a data subject, its deadline and where it stands."""

    __tablename__ = "data_request"
    __table_args__ = (
        CheckConstraint(f"type IN ({_in(RequestType)})", name="ck_data_request_type"),
        CheckConstraint(f"status IN ({_in(RequestStatus)})", name="ck_data_request_status"),
        # The due list: open requests by deadline (closed ones have closed_at set).
        Index("ix_data_request_open_due", "closed_at", "due_at"),
        Index("ix_data_request_subject", "subject_id", "type", "received_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    type: str = Field(max_length=16)
    subject_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    country: str = Field(max_length=2)
    channel: str = Field(max_length=16)
    status: str = Field(max_length=16)
    received_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    due_on: date = Field(sa_type=Date, nullable=False)
    due_at: datetime = Field(sa_type=TZDateTime, nullable=False)  # the end of due_on (UTC)
    extended_at: datetime | None = _ts()
    extension_reason: str | None = Field(default=None, sa_type=String(1000))
    verified_at: datetime | None = _ts()
    verified_by: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    approved_at: datetime | None = _ts()
    approved_by: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    closed_at: datetime | None = _ts()
    refusal_ground: str | None = Field(default=None, sa_type=String(1000))
    duplicate_of: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    opened_by: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    created_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    # Personal data (REQUEST_PERSONAL_COLUMNS): never logged, audited or put in an error.
    contact: str | None = Field(default=None, max_length=320)
    verification_method: str | None = Field(default=None, max_length=200)


REQUEST_PERSONAL_COLUMNS: tuple[str, ...] = ("contact", "verification_method")


class RequestEvent(SQLModel, table=True):
    """One state change of a request: what happened, when it happened, when it was recorded."""

    __tablename__ = "data_request_event"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    request_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("data_request.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: str = Field(max_length=16)
    at: datetime = Field(sa_type=TZDateTime, nullable=False)
    recorded_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    actor: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    note: str | None = Field(default=None, sa_type=String(1000))
