"""plan tiers: upgrades at once with a credit, downgrades from the end of the period

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("plans", "orders", "subscriptions"):
        op.add_column(
            table,
            sa.Column("tier", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        )
        op.alter_column(table, "tier", server_default=None)
    op.add_column(
        "subscriptions",
        sa.Column(
            "traffic_carry_over", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
    )
    op.add_column(
        "subscriptions",
        sa.Column("traffic_reset", sa.String(8), server_default="none", nullable=False),
    )
    # The rules of each subscription's current plan, as its latest paid order sold them.
    op.execute(
        """
        UPDATE subscriptions s
        SET traffic_carry_over = o.traffic_carry_over, traffic_reset = o.traffic_reset
        FROM (
            SELECT DISTINCT ON (subscription_id) subscription_id, traffic_carry_over,
                traffic_reset
            FROM orders
            WHERE subscription_id IS NOT NULL AND paid_at IS NOT NULL
            ORDER BY subscription_id, paid_at DESC
        ) o
        WHERE o.subscription_id = s.subscription_id
        """
    )
    op.alter_column("subscriptions", "traffic_carry_over", server_default=None)
    op.alter_column("subscriptions", "traffic_reset", server_default=None)
    op.add_column("subscriptions", sa.Column("pending_order_id", sa.Uuid(), nullable=True))
    op.add_column(
        "subscriptions",
        sa.Column("pending_from", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("subscriptions", "pending_from")
    op.drop_column("subscriptions", "pending_order_id")
    op.drop_column("subscriptions", "traffic_reset")
    op.drop_column("subscriptions", "traffic_carry_over")
    for table in ("subscriptions", "orders", "plans"):
        op.drop_column(table, "tier")
