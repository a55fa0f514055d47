"""the ATS integration: transactional outbox, inbound deliveries, source links

Revision ID: 0011_integration
Revises: 0010_consent
Create Date: 2026-12-01 23:50:00

Self-contained (three new tables, nothing altered), so the lead can re-chain it after 0010.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_integration"
down_revision: str | None = "0010_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integration_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("source_ref", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("after_seq", sa.BigInteger(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retried_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.SmallInteger(), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    waiting = sa.text("state IN ('pending', 'failed')")
    op.create_index(
        "ix_integration_outbox_waiting",
        "integration_outbox",
        ["target", "id"],
        sqlite_where=waiting,
        postgresql_where=waiting,
    )
    op.create_table(
        "integration_delivery",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "delivery_id"),
    )
    op.create_table(
        "integration_link",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=True),
        sa.Column("event_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source", "kind", "key"),
    )
    op.create_index("ix_integration_link_subject", "integration_link", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_integration_link_subject", table_name="integration_link")
    op.drop_table("integration_link")
    op.drop_table("integration_delivery")
    op.drop_index("ix_integration_outbox_waiting", table_name="integration_outbox")
    op.drop_table("integration_outbox")
