"""the HTTP API's idempotency keys

Revision ID: 0008_api
Revises: 0007_enrollment
Create Date: 2026-12-01 23:45:00

`gdpr serve` replays the first response to a POST retried with the same Idempotency-Key: one
row per (principal, key), claimed before the request runs, completed with the response
(encrypted under a key derived from the client's key), expired after 24 hours.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_api"
down_revision: str | None = "0007_enrollment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_idempotency",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["principal_id"], ["principal.id"]),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_idempotency_principal_id"), ["principal_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_api_idempotency_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_idempotency_expires_at"))
        batch_op.drop_index(batch_op.f("ix_api_idempotency_principal_id"))
    op.drop_table("api_idempotency")
