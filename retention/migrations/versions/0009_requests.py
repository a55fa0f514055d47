"""data-subject requests: the register and its appended events

Revision ID: 0009_requests
Revises: 0008_api
Create Date: 2026-12-01 23:45:00

A request (Art. 15-21) refers to its subject by UUID, not by foreign key, so that the register
outlives an erasure it answered. The due list reads open requests (closed_at IS NULL) by deadline
through ix_data_request_open_due; duplicate detection reads a subject's requests of one type by
receipt through ix_data_request_subject.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_requests"
down_revision: str | None = "0008_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TYPES = "'access', 'rectification', 'erasure', 'restriction', 'portability', 'objection'"
STATUSES = "'open', 'verified', 'paused', 'fulfilled', 'refused', 'withdrawn'"


def upgrade() -> None:
    op.create_table(
        "data_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("extended_at", sa.DateTime(), nullable=True),
        sa.Column("extension_reason", sa.String(length=1000), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("verified_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("refusal_ground", sa.String(length=1000), nullable=True),
        sa.Column("duplicate_of", sa.Uuid(), nullable=True),
        sa.Column("opened_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=True),
        sa.Column("verification_method", sa.String(length=200), nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_data_request_status"),
        sa.CheckConstraint(f"type IN ({TYPES})", name="ck_data_request_type"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_data_request_open_due", "data_request", ["closed_at", "due_at"])
    op.create_index(
        "ix_data_request_subject", "data_request", ["subject_id", "type", "received_at"]
    )
    op.create_table(
        "data_request_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.Uuid(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["data_request.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_data_request_event_request_id", "data_request_event", ["request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_data_request_event_request_id", table_name="data_request_event")
    op.drop_table("data_request_event")
    op.drop_index("ix_data_request_subject", table_name="data_request")
    op.drop_index("ix_data_request_open_due", table_name="data_request")
    op.drop_table("data_request")
