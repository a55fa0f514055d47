"""Idempotency keys in the database: claim before acting, complete with the response, replay.

The HTTP API's retries are safe through these three steps on `api_idempotency`: `claim` a key
for a request (or learn that it was answered before, differs from the first request, or is still
running), `complete` it with the sealed response, or `release` it when the response should not be
kept (a server error: the retry must run again). Expired rows are purged as keys are claimed.
A replay is audited (`api.replay`, naming the first request), since it hands a response again.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from audit_log import Event
from retention.store.api_tables import IdempotentRequest
from retention.store.audit import record
from retention.store.engine import table_of, transaction

__all__ = ["IDEMPOTENCY_TTL", "Claim", "ClaimResult", "claim", "complete", "release"]

IDEMPOTENCY_TTL = timedelta(hours=24)


class Claim(enum.Enum):
    CLAIMED = "claimed"  # first time: run the request, then complete or release
    REPLAY = "replay"  # answered before: `sealed` is the first response
    MISMATCH = "mismatch"  # the key was used for another request
    IN_PROGRESS = "in_progress"  # the first request with this key is still running


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    status: int | None = None
    sealed: bytes | None = None
    first_request_id: str | None = None


def claim(
    engine: Engine,
    key_hash: str,
    principal_id: uuid.UUID,
    route: str,
    request_hash: str,
    request_id: str,
    at: datetime,
) -> ClaimResult:
    t = table_of(IdempotentRequest)
    try:
        with transaction(engine) as conn:
            conn.execute(delete(t).where(col(IdempotentRequest.expires_at) <= at))
            row = conn.execute(
                select(IdempotentRequest).where(col(IdempotentRequest.key_hash) == key_hash)
            ).first()
            if row is None:
                conn.execute(
                    t.insert().values(
                        key_hash=key_hash,
                        principal_id=principal_id,
                        route=route,
                        request_hash=request_hash,
                        request_id=request_id,
                        created_at=at,
                        expires_at=at + IDEMPOTENCY_TTL,
                    )
                )
                return ClaimResult(Claim.CLAIMED)
            if row.request_hash != request_hash:
                return ClaimResult(Claim.MISMATCH, first_request_id=row.request_id)
            if row.status is None:
                return ClaimResult(Claim.IN_PROGRESS, first_request_id=row.request_id)
            record(
                conn,
                Event(
                    actor=str(principal_id),
                    action="api.replay",
                    details={"route": row.route, "first_request_id": row.request_id},
                ),
                at=at,
            )
            return ClaimResult(Claim.REPLAY, row.status, row.sealed, row.request_id)
    except IntegrityError:
        # Another copy of the request claimed the key between our read and our insert.
        return ClaimResult(Claim.IN_PROGRESS)


def complete(engine: Engine, key_hash: str, status: int, sealed: bytes) -> None:
    with transaction(engine) as conn:
        conn.execute(
            update(table_of(IdempotentRequest))
            .where(col(IdempotentRequest.key_hash) == key_hash)
            .values(status=status, sealed=sealed)
        )


def release(engine: Engine, key_hash: str) -> None:
    with transaction(engine) as conn:
        conn.execute(
            delete(table_of(IdempotentRequest)).where(col(IdempotentRequest.key_hash) == key_hash)
        )
