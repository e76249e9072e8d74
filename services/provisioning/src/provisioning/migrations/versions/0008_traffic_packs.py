"""placements: the traffic packs bought for the current allowance

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "placements",
        sa.Column("extra_bytes", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.alter_column("placements", "extra_bytes", server_default=None)


def downgrade() -> None:
    op.drop_column("placements", "extra_bytes")
