"""referrals: each customer's own code, and the rewards their newcomers' payments earned

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import base64
import hashlib
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _code(customer_id: uuid.UUID) -> str:
    # contracts.bot.referral_code_for as it is today: a migration keeps its own copy.
    digest = hashlib.sha256(b"referral:" + customer_id.bytes).digest()
    return "r" + base64.b32encode(digest).decode().lower()[:11]


def upgrade() -> None:
    op.add_column("customers", sa.Column("own_referral_code", sa.String(16), nullable=True))
    bind = op.get_bind()
    ids = bind.execute(sa.text("SELECT customer_id FROM customers")).scalars().all()
    for customer_id in ids:
        bind.execute(
            sa.text("UPDATE customers SET own_referral_code = :code WHERE customer_id = :id"),
            {"code": _code(customer_id), "id": customer_id},
        )
    op.create_unique_constraint(
        op.f("uq_customers_own_referral_code"), "customers", ["own_referral_code"]
    )
    op.create_table(
        "referral_rewards",
        sa.Column("newcomer_id", sa.Uuid(), nullable=False),
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversed_minor", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("newcomer_id", name=op.f("pk_referral_rewards")),
        sa.UniqueConstraint("order_id", name=op.f("uq_referral_rewards_order_id")),
    )
    op.create_index(
        op.f("ix_referral_rewards_referrer_id"), "referral_rewards", ["referrer_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_referral_rewards_referrer_id"), table_name="referral_rewards")
    op.drop_table("referral_rewards")
    op.drop_constraint(op.f("uq_customers_own_referral_code"), "customers")
    op.drop_column("customers", "own_referral_code")
