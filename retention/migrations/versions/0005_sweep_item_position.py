"""sweep_item: work items keyed by their subject's storage position, not by subject id

Revision ID: 0005_sweep_item_position
Revises: 0004_sweep
Create Date: 2026-11-22 23:00:00

Batches taken in subject-id order touched a different table page for nearly every subject (ids
are random UUIDs); taken in storage order they touch contiguous pages. The table holds only the
work list of a run in progress, and a run that finds its predecessor's items discards them and
selects afresh, so the table is re-created empty instead of being converted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_sweep_item_position"
down_revision: str | None = "0004_sweep"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("sweep_item")
    op.create_table(
        "sweep_item",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("sweep_item")
    op.create_table(
        "sweep_item",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "subject_id"),
    )
