"""candidate: one partial index on lower(email) instead of indexes no query used

Revision ID: 0006_candidate_indexes
Revises: 0005_sweep_item_position
Create Date: 2026-11-23 01:00:00

No query seeks candidates by decided_at or last_activity_at (the policy selection reads every
row), and `gdpr find --email` compares lower-cased addresses, which a plain index on email cannot
serve. Each of the three indexes still cost a random page write per subject the sweep
anonymized: together they were two thirds of the pages a batch wrote. The index that replaces
them serves the lookup, and leaves a subject's entry when it is anonymized (its address is then
a placeholder that finds no one).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_candidate_indexes"
down_revision: str | None = "0005_sweep_item_position"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_ANONYMIZED = sa.text("anonymized_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_candidate_decided_at", table_name="candidate")
    op.drop_index("ix_candidate_last_activity_at", table_name="candidate")
    op.drop_index("ix_candidate_email", table_name="candidate")
    op.create_index(
        "ix_candidate_email_lower",
        "candidate",
        [sa.text("lower(email)")],
        sqlite_where=_NOT_ANONYMIZED,
        postgresql_where=_NOT_ANONYMIZED,
    )


def downgrade() -> None:
    op.drop_index("ix_candidate_email_lower", table_name="candidate")
    op.create_index("ix_candidate_email", "candidate", ["email"])
    op.create_index("ix_candidate_last_activity_at", "candidate", ["last_activity_at"])
    op.create_index("ix_candidate_decided_at", "candidate", ["decided_at"])
