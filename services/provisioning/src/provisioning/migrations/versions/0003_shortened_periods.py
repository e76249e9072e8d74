"""placements follow refunds: the revision of the desired state, and whether it shortened

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("placements", sa.Column("desired_revision", sa.Integer(), nullable=True))
    op.add_column(
        "placements",
        sa.Column("shortened", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.alter_column("placements", "shortened", server_default=None)


def downgrade() -> None:
    op.drop_column("placements", "shortened")
    op.drop_column("placements", "desired_revision")
