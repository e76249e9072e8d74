"""placements: billing's stage after the end (active, suspended, removed), the paid end

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "placements",
        sa.Column("desired_state", sa.String(16), nullable=False, server_default="active"),
    )
    op.alter_column("placements", "desired_state", server_default=None)
    op.add_column(
        "placements", sa.Column("desired_period_end", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("placements", "desired_period_end")
    op.drop_column("placements", "desired_state")
