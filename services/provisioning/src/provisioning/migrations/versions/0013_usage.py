"""placements: the usage the panel watch last saw, and the traffic threshold told

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("placements", sa.Column("seen_used_bytes", sa.BigInteger(), nullable=True))
    op.add_column("placements", sa.Column("seen_limit_bytes", sa.BigInteger(), nullable=True))
    op.add_column(
        "placements",
        sa.Column(
            "announced_threshold", sa.SmallInteger(), nullable=False, server_default=sa.text("0")
        ),
    )


def downgrade() -> None:
    op.drop_column("placements", "announced_threshold")
    op.drop_column("placements", "seen_limit_bytes")
    op.drop_column("placements", "seen_used_bytes")
