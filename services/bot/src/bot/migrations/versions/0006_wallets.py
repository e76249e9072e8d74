"""customers' wallets as billing reports them, and checkouts of wallet top-ups

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "checkouts", sa.Column("kind", sa.String(16), nullable=False, server_default="plan")
    )
    op.alter_column("checkouts", "kind", server_default=None)
    op.create_table(
        "wallets",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_wallets")),
    )
    op.create_table(
        "wallet_movements",
        sa.Column("entry_key", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("credited", sa.Boolean(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_key", name=op.f("pk_wallet_movements")),
    )
    op.create_index(
        op.f("ix_wallet_movements_customer_id"), "wallet_movements", ["customer_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_wallet_movements_customer_id"), table_name="wallet_movements")
    op.drop_table("wallet_movements")
    op.drop_table("wallets")
    op.drop_column("checkouts", "kind")
