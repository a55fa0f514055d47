"""Who may act: principals, their hashed tokens, and the grants that give them roles.

Tables only (the access capability in `retention.access` holds the rules). They live in the store
with every other table so that the schema is defined in one package and nothing has to import a
service module to register a table.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Uuid
from sqlmodel import Field, SQLModel

from retention.store.engine import TZDateTime

__all__ = ["Enrollment", "Grant", "Principal", "PrincipalKind", "Token"]


class PrincipalKind(StrEnum):
    HUMAN = "human"
    SERVICE = "service"


class Principal(SQLModel, table=True):
    """Someone or something that acts: referred to by `id` in the audit log."""

    __tablename__ = "principal"
    __table_args__ = (CheckConstraint("kind IN ('human', 'service')", name="ck_principal_kind"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    disabled_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)


def _principal_fk(nullable: bool, index: bool = False) -> Any:
    return Column(Uuid, ForeignKey("principal.id"), nullable=nullable, index=index)


class Token(SQLModel, table=True):
    """A bearer token, stored only as the SHA-256 of its text.

    `issued_by` is whoever issued the enrollment code it was redeemed with (a self-rotation keeps
    the issuer of the token it replaced); None for the bootstrap tokens `gdpr init` prints.
    """

    __tablename__ = "token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    principal_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("principal.id"), nullable=False, index=True)
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    issued_by: uuid.UUID | None = Field(default=None, sa_column=_principal_fk(True))


class Enrollment(SQLModel, table=True):
    """A single-use, short-lived code a principal redeems for its own token (hash only).

    Credentials are issued to the person, not to whoever created or rotated them: `issued_by`
    gets a code, the person redeems it (`gdpr principal enroll`) and the token exists only there.
    """

    __tablename__ = "enrollment"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    principal_id: uuid.UUID = Field(sa_column=_principal_fk(False, index=True))
    code_hash: str = Field(max_length=64, unique=True)
    issued_by: uuid.UUID | None = Field(default=None, sa_column=_principal_fk(True))
    created_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    redeemed_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    token_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("token.id"), nullable=True)
    )


class Grant(SQLModel, table=True):
    """A role given to a principal; it gives nothing once expired, revoked, or while pending."""

    __tablename__ = "access_grant"
    __table_args__ = (Index("ix_access_grant_expires_at", "expires_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_type=Uuid, primary_key=True)
    principal_id: uuid.UUID = Field(sa_column=_principal_fk(False, index=True))
    role: str = Field(max_length=16)
    countries: str = Field(max_length=400)
    reason: str = Field(max_length=1000)
    status: str = Field(max_length=8)
    created_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=TZDateTime, nullable=False)
    granted_by: uuid.UUID | None = Field(default=None, sa_column=_principal_fk(True))
    approved_by: uuid.UUID | None = Field(default=None, sa_column=_principal_fk(True))
    approved_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=TZDateTime, nullable=True)
    revoked_by: uuid.UUID | None = Field(default=None, sa_column=_principal_fk(True))
    revoke_reason: str | None = Field(default=None, max_length=1000)
