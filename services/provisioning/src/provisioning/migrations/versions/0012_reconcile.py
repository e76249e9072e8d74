"""placements: the desired version that is a repair by reconciliation, granted no access again

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("placements", sa.Column("repair_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("placements", "repair_version")
