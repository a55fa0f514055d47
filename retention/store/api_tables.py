"""The HTTP API's own table: the first response to each idempotency key, to replay on retries.

A row is claimed (status NULL) before the request runs, so that two copies of one request
racing cannot both act; completed with the response; kept 24 hours. The response body may hold
personal data (a created record): it is stored encrypted under a key derived from the
client's Idempotency-Key, which the database never holds (only a hash of it), so a copy of the
database reveals no response.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, Uuid
from sqlmodel import Field, SQLModel

from retention.store.engine import TZDateTime

__all__ = ["IdempotentRequest"]


class IdempotentRequest(SQLModel, table=True):
    __tablename__ = "api_idempotency"

    # sha256(principal id, key): keys are scoped to the principal that sent them.
    key_hash: str = Field(max_length=64, primary_key=True)
    principal_id: uuid.UUID = Field(sa_type=Uuid, foreign_key="principal.id", index=True)
    route: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)  # method, path and body of the first request
    request_id: str = Field(max_length=36)  # of the first request (its audit entries say it)
    status: int | None = Field(default=None)  # None: claimed, the first request still running
    sealed: bytes | None = Field(default=None, sa_type=LargeBinary)  # nonce + AES-GCM(response)
    created_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=TZDateTime, nullable=False, index=True)
