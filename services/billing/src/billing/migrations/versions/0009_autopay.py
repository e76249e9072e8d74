"""autopay: each customer's automatic renewal, the consent log, and the orders it makes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autopay_consents",
        sa.Column("consent_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("terms_version", sa.String(64), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_autopay_consents_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("consent_id", name=op.f("pk_autopay_consents")),
    )
    op.create_index(op.f("ix_autopay_consents_customer_id"), "autopay_consents", ["customer_id"])
    op.create_table(
        "autopays",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("method_id", sa.String(128), nullable=True),
        sa.Column("method_title", sa.String(128), nullable=True),
        sa.Column("consent_id", sa.Uuid(), nullable=True),
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("receipt_email", sa.String(254), nullable=True),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(64), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("charge_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("charge_order_id", sa.Uuid(), nullable=True),
        sa.Column("change", sa.String(16), nullable=True),
        sa.Column("decline_reason", sa.String(64), nullable=True),
        sa.Column("declines", sa.Integer(), nullable=False),
        sa.Column("unavailable_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_autopays_positive")),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["autopay_consents.consent_id"],
            name=op.f("fk_autopays_consent_id_autopay_consents"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_autopays")),
    )
    for column in ("charge_due_at", "notice_due_at"):
        op.create_index(
            f"ix_autopays_{column}",
            "autopays",
            [column],
            postgresql_where=sa.text("enabled"),
        )
    op.create_index(
        "ix_autopays_change", "autopays", ["change"], postgresql_where=sa.text("change IS NOT NULL")
    )
    # The consent a saving checkout was given (its row is in autopay_consents), and whether
    # the order is a charge autopay made.
    op.add_column("orders", sa.Column("autopay_consent_id", sa.Uuid(), nullable=True))
    op.add_column(
        "orders",
        sa.Column("autopay_charge", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.alter_column("orders", "autopay_charge", server_default=None)


def downgrade() -> None:
    op.drop_column("orders", "autopay_charge")
    op.drop_column("orders", "autopay_consent_id")
    op.drop_table("autopays")
    op.drop_table("autopay_consents")
