"""enrollment codes, and who issued each token

Revision ID: 0007_enrollment
Revises: 0006_candidate_indexes
Create Date: 2026-11-23 12:00:00

Credentials are issued to the person, not to whoever creates or rotates a principal: `principal
create` and `rotate-token` leave a single-use, short-lived enrollment code (stored as a hash), the
person redeems it for a token. Each token records who issued the code it came from, so that the
approval of a grant can exclude the issuer of the grantee's credential (four eyes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_enrollment"
down_revision: str | None = "0006_candidate_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_by", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key("fk_token_issued_by", "principal", ["issued_by"], ["id"])
    op.create_table(
        "enrollment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(), nullable=True),
        sa.Column("token_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["issued_by"], ["principal.id"]),
        sa.ForeignKeyConstraint(["principal_id"], ["principal.id"]),
        sa.ForeignKeyConstraint(["token_id"], ["token.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrollment_principal_id"), ["principal_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrollment_principal_id"))
    op.drop_table("enrollment")
    with op.batch_alter_table("token", schema=None) as batch_op:
        batch_op.drop_constraint("fk_token_issued_by", type_="foreignkey")
        batch_op.drop_column("issued_by")
