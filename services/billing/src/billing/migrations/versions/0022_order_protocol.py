"""orders: the protocol the customer chose

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("protocol", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "protocol")
