"""subscriptions: served until the grace's end, and the stage after it; orders: their grace

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
    op.add_column("subscriptions", sa.Column("access_until", sa.DateTime(timezone=True)))
    # Subscriptions sold before grace periods are served until their end.
    op.execute("UPDATE subscriptions SET access_until = period_end")
    op.alter_column("subscriptions", "access_until", nullable=False)
    op.add_column(
        "subscriptions",
        sa.Column("stage", sa.String(16), nullable=False, server_default="active"),
    )
    op.alter_column("subscriptions", "stage", server_default=None)
    op.add_column(
        "orders", sa.Column("grace_hours", sa.Integer(), nullable=False, server_default="0")
    )
    op.alter_column("orders", "grace_hours", server_default=None)


def downgrade() -> None:
    op.drop_column("orders", "grace_hours")
    op.drop_column("subscriptions", "stage")
    op.drop_column("subscriptions", "access_until")
