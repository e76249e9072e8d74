"""expired payments: orders whose payment ran out are looked up with their provider

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders", sa.Column("expiry_lease_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "orders",
        sa.Column("expiry_checks", sa.Integer(), nullable=False, server_default="0"),
    )
    op.alter_column("orders", "expiry_checks", server_default=None)
    op.create_index(
        "ix_orders_pending_expiry",
        "orders",
        ["payment_expires_at"],
        postgresql_where=sa.text("status = 'pending' AND payment_expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_pending_expiry", table_name="orders")
    op.drop_column("orders", "expiry_checks")
    op.drop_column("orders", "expiry_lease_until")
