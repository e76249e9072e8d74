"""customer_subscriptions: served until the grace's end, and billing's stage after it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "customer_subscriptions",
        sa.Column("access_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "customer_subscriptions",
        sa.Column("stage", sa.String(16), nullable=False, server_default="active"),
    )
    op.alter_column("customer_subscriptions", "stage", server_default=None)


def downgrade() -> None:
    op.drop_column("customer_subscriptions", "stage")
    op.drop_column("customer_subscriptions", "access_until")
