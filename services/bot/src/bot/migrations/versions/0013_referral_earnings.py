"""referral_earnings: what invitees earned each customer; customers by the code they came by

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_earnings",
        sa.Column("newcomer_id", sa.Uuid(), nullable=False),
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("newcomer_id", name=op.f("pk_referral_earnings")),
    )
    op.create_index(
        op.f("ix_referral_earnings_referrer_id"), "referral_earnings", ["referrer_id"]
    )
    op.create_index(op.f("ix_customers_referral_code"), "customers", ["referral_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_customers_referral_code"), table_name="customers")
    op.drop_index(op.f("ix_referral_earnings_referrer_id"), table_name="referral_earnings")
    op.drop_table("referral_earnings")
