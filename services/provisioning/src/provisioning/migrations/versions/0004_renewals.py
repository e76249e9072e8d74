"""renewals reset the panel's usage once, keeping what was left of the limit

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "placements",
        sa.Column("renewal_due", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.alter_column("placements", "renewal_due", server_default=None)
    op.add_column("placements", sa.Column("carry_pending", sa.BigInteger(), nullable=True))
    op.add_column(
        "placements",
        sa.Column("carried_bytes", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.alter_column("placements", "carried_bytes", server_default=None)


def downgrade() -> None:
    op.drop_column("placements", "carried_bytes")
    op.drop_column("placements", "carry_pending")
    op.drop_column("placements", "renewal_due")
