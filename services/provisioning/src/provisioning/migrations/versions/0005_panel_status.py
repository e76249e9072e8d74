"""the panel user's status as provisioning last saw it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("placements", sa.Column("panel_status", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("placements", "panel_status")
