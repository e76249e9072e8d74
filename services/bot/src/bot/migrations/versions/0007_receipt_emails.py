"""a customer's e-mail for 54-FZ receipts, and what their next message answers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("customers", sa.Column("awaiting", sa.String(128), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "awaiting")
    op.drop_column("customers", "email")
