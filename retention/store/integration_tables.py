"""The tables of the ATS integration: the transactional outbox, inbound deliveries, source links.

`integration_outbox` is the transactional outbox: one row per (action on a subject, target),
written in the transaction of the action and its audit entry, delivered after commit by the
worker (`retention.integration.delivery`). Its `source_ref` (the target system's own id of the
record, a key back to the person there) is kept only until the message is delivered or dead.
`integration_delivery` remembers the delivery ids a source has sent, so a redelivery is
acknowledged without acting again. `integration_link` maps a source's record to the subject (or
application) here by a keyed hash of the source's id, never the id itself: the link survives the
subject's anonymization or erasure, so a later event about it is recognised and cannot bring
personal data back, while the table holds nothing that points to the person without the
source's secret. Created by migration 0011_integration.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Integer, SmallInteger, Uuid, text
from sqlmodel import Field, SQLModel

from retention.store.engine import TZDateTime

__all__ = [
    "WAITING",
    "IntegrationDelivery",
    "IntegrationLink",
    "MessageState",
    "OutboxMessage",
]


class MessageState(StrEnum):
    PENDING = "pending"  # not attempted yet
    FAILED = "failed"  # attempted, failed, to be retried at next_at
    DELIVERED = "delivered"  # a 2xx confirmed it
    DEAD = "dead"  # failed for longer than the target's dead-letter age


# The states a message waits in, as SQL: the partial index's predicate, which a query must repeat
# word for word (not as bound parameters) for SQLite to use the index.
WAITING = "state IN ('pending', 'failed')"


class OutboxMessage(SQLModel, table=True):
    """One action on one subject, to be told to one target."""

    __tablename__ = "integration_outbox"
    __table_args__ = (
        # The worker's claim reads a target's waiting messages in id order: only those rows are
        # in the index, so a million delivered ones cost nothing, and the sweep's inserts
        # maintain one index beside the primary key.
        Index(
            "ix_integration_outbox_waiting",
            "target",
            "id",
            sqlite_where=text(WAITING),
            postgresql_where=text(WAITING),
        ),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    target: str = Field(max_length=64)
    subject_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    source_ref: str | None = Field(default=None, max_length=128)
    action: str = Field(max_length=16)
    # The action's audit entry has seq >= after_seq (the log's size when the row was written);
    # the worker resolves the exact seq once, the first time it claims the row.
    after_seq: int = Field(sa_type=BigInteger, nullable=False)
    audit_seq: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    state: str = Field(max_length=12)
    attempts: int = Field(default=0, sa_type=SmallInteger, nullable=False)
    next_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    claimed_until: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    created_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    # Set by `gdpr integration retry`: the dead-letter age counts from here then.
    retried_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    finished_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    last_status: int | None = Field(default=None, sa_type=SmallInteger, nullable=True)
    last_error: str | None = Field(default=None, max_length=64)


class IntegrationDelivery(SQLModel, table=True):
    """A delivery id a source sent (Greenhouse-Event-ID, webhook-id), for exactly-once effect."""

    __tablename__ = "integration_delivery"

    source: str = Field(max_length=64, primary_key=True)
    delivery_id: str = Field(max_length=200, primary_key=True)
    received_at: datetime = Field(sa_type=TZDateTime, nullable=False)


class IntegrationLink(SQLModel, table=True):
    """A source's candidate or application, known here by a keyed hash of the source's id."""

    __tablename__ = "integration_link"
    __table_args__ = (Index("ix_integration_link_subject", "subject_id"),)

    source: str = Field(max_length=64, primary_key=True)
    kind: str = Field(max_length=16, primary_key=True)  # candidate | application
    key: str = Field(max_length=64, primary_key=True)  # HMAC-SHA256(secret, kind:id), hex
    subject_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    application_id: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    # The event time of the newest event applied (the source's own timestamp).
    event_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
