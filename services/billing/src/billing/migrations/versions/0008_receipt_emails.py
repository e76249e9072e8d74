"""receipt e-mails: the customer's, and the one each order's receipt went to

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("orders", sa.Column("receipt_email", sa.String(254), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "receipt_email")
    op.drop_column("customers", "email")
