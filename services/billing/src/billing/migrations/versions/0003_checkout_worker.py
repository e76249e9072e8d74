"""payments created by the checkout worker instead of inside the consumer

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("return_url", sa.Text(), nullable=True))
    op.add_column(
        "orders", sa.Column("checkout_due_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "orders", sa.Column("checkout_lease_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "orders",
        sa.Column("checkout_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.alter_column("orders", "checkout_attempts", server_default=None)
    op.add_column("orders", sa.Column("checkout_correlation_id", sa.String(128), nullable=True))
    op.add_column(
        "orders",
        sa.Column("trace_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_index(
        "ix_orders_checkout_due_at",
        "orders",
        ["checkout_due_at"],
        postgresql_where=sa.text("checkout_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_checkout_due_at", table_name="orders")
    for column in (
        "trace_context",
        "checkout_correlation_id",
        "checkout_attempts",
        "checkout_lease_until",
        "checkout_due_at",
        "return_url",
    ):
        op.drop_column("orders", column)
