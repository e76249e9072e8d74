"""orders: the protocol the customer chose

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("protocol", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "protocol")
