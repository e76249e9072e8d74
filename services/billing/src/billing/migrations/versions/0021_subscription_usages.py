"""subscription_usages: the latest traffic used per subscription, from provisioning

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_usages",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("used_traffic_bytes", sa.BigInteger(), nullable=False),
        sa.Column("traffic_limit_bytes", sa.BigInteger(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription_usages")),
    )
    op.create_index(
        op.f("ix_subscription_usages_customer_id"),
        "subscription_usages",
        ["customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_subscription_usages_customer_id"), table_name="subscription_usages")
    op.drop_table("subscription_usages")
