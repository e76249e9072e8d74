"""promo codes, their redemptions; orders keep the code they used and the list price

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ONE_BENEFIT = (
    "kind = 'percent' AND percent_off BETWEEN 1 AND 99 AND amount_off_minor IS NULL"
    " AND free_days IS NULL AND extra_traffic_bytes IS NULL"
    " OR kind = 'fixed' AND amount_off_minor > 0 AND amount_off_currency IS NOT NULL"
    " AND percent_off IS NULL AND free_days IS NULL AND extra_traffic_bytes IS NULL"
    " OR kind = 'free_days' AND free_days > 0 AND percent_off IS NULL"
    " AND amount_off_minor IS NULL AND extra_traffic_bytes IS NULL"
    " OR kind = 'extra_traffic' AND extra_traffic_bytes > 0 AND percent_off IS NULL"
    " AND amount_off_minor IS NULL AND free_days IS NULL"
)


def upgrade() -> None:
    op.create_table(
        "promo_codes",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("amount_off_minor", sa.BigInteger(), nullable=True),
        sa.Column("amount_off_currency", sa.String(3), nullable=True),
        sa.Column("free_days", sa.Integer(), nullable=True),
        sa.Column("extra_traffic_bytes", sa.BigInteger(), nullable=True),
        sa.Column("plan_ids", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("once_per_customer", sa.Boolean(), nullable=False),
        sa.Column("first_purchase_only", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(_ONE_BENEFIT, name=op.f("ck_promo_codes_one_benefit")),
        sa.CheckConstraint(
            "uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)",
            name=op.f("ck_promo_codes_uses"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_promo_codes")),
    )
    op.create_table(
        "promo_redemptions",
        sa.Column("redemption_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("once", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["code"],
            ["promo_codes.code"],
            name=op.f("fk_promo_redemptions_code_promo_codes"),
        ),
        sa.PrimaryKeyConstraint("redemption_id", name=op.f("pk_promo_redemptions")),
        sa.UniqueConstraint("order_id", name=op.f("uq_promo_redemptions_order_id")),
    )
    op.create_index(
        "uq_promo_redemptions_once",
        "promo_redemptions",
        ["code", "customer_id"],
        unique=True,
        postgresql_where=sa.text("once AND status <> 'released'"),
    )
    op.create_index("ix_promo_redemptions_customer", "promo_redemptions", ["customer_id"])
    op.add_column("orders", sa.Column("promo_code", sa.String(32), nullable=True))
    op.add_column("orders", sa.Column("list_amount_minor", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "list_amount_minor")
    op.drop_column("orders", "promo_code")
    op.drop_index("ix_promo_redemptions_customer", table_name="promo_redemptions")
    op.drop_index("uq_promo_redemptions_once", table_name="promo_redemptions")
    op.drop_table("promo_redemptions")
    op.drop_table("promo_codes")
