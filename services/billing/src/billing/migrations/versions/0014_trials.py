"""trials: once per Telegram account, and their conversion to a payment

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trials",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_order_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_trials")),
        sa.UniqueConstraint("telegram_user_id", name=op.f("uq_trials_telegram_user_id")),
    )
    op.create_index(op.f("ix_trials_started_at"), "trials", ["started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_trials_started_at"), table_name="trials")
    op.drop_table("trials")
