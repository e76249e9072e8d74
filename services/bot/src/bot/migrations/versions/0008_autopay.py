"""autopay: each customer's automatic renewal as billing reports it, and room on the
customer's row for the consent a pending checkout carries through the e-mail question

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_autopays",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("method_title", sa.String(128), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("next_charge_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("turned_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_autopays")),
    )
    op.alter_column(
        "customers", "awaiting", type_=sa.String(256), existing_type=sa.String(128)
    )


def downgrade() -> None:
    # A longer pending checkout (one with a consent) does not fit the old column: the
    # question is dropped, as a menu button would drop it.
    op.execute("UPDATE customers SET awaiting = NULL WHERE length(awaiting) > 128")
    op.alter_column(
        "customers", "awaiting", type_=sa.String(128), existing_type=sa.String(256)
    )
    op.drop_table("customer_autopays")
