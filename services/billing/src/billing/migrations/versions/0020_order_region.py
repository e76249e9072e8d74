"""orders: the region the customer chose to be served from

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("region", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "region")
