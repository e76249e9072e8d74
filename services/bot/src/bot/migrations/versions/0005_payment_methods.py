"""the catalog v2 (payment methods, top-ups) and checkouts by any method: the provider,
the order, a Stars invoice, a wallet payment's balance, why one failed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The mirror held v1 plans; the v2 catalog replaces it (read from the topic's start).
    op.execute("DELETE FROM catalog_mirror")
    for name in ("topups", "payment_methods"):
        op.add_column(
            "catalog_mirror",
            sa.Column(name, postgresql.JSONB(), nullable=False, server_default="[]"),
        )
        op.alter_column("catalog_mirror", name, server_default=None)
    op.add_column("catalog_mirror", sa.Column("wallet_currency", sa.String(3), nullable=True))

    op.add_column(
        "checkouts",
        sa.Column("provider", sa.String(32), nullable=False, server_default="yookassa"),
    )
    op.alter_column("checkouts", "provider", server_default=None)
    op.add_column("checkouts", sa.Column("failure_code", sa.String(64), nullable=True))
    op.add_column("checkouts", sa.Column("order_id", sa.Uuid(), nullable=True))
    op.create_index(op.f("ix_checkouts_order_id"), "checkouts", ["order_id"])
    op.add_column("checkouts", sa.Column("invoice", postgresql.JSONB(), nullable=True))
    op.add_column("checkouts", sa.Column("balance_minor", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("checkouts", "balance_minor")
    op.drop_column("checkouts", "invoice")
    op.drop_index(op.f("ix_checkouts_order_id"), table_name="checkouts")
    op.drop_column("checkouts", "order_id")
    op.drop_column("checkouts", "failure_code")
    op.drop_column("checkouts", "provider")
    op.drop_column("catalog_mirror", "wallet_currency")
    op.drop_column("catalog_mirror", "payment_methods")
    op.drop_column("catalog_mirror", "topups")
