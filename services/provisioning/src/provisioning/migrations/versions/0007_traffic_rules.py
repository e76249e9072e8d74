"""placements: the plan's traffic rules (carried into a renewal or not, reset monthly)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What every placement did so far: the rest carried over, one allowance per period.
    op.add_column(
        "placements",
        sa.Column("carry_over", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "placements",
        sa.Column("traffic_reset", sa.String(8), nullable=False, server_default="none"),
    )
    op.alter_column("placements", "carry_over", server_default=None)
    op.alter_column("placements", "traffic_reset", server_default=None)


def downgrade() -> None:
    op.drop_column("placements", "traffic_reset")
    op.drop_column("placements", "carry_over")
