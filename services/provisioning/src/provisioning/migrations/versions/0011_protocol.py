"""placements: the protocol the customer chose (None: every protocol of the panel)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("placements", sa.Column("protocol", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("placements", "protocol")
