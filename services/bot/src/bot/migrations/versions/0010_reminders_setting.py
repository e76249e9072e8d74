"""whether a customer wants the reminders about their subscription's end

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("reminders", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.alter_column("customers", "reminders", server_default=None)


def downgrade() -> None:
    op.drop_column("customers", "reminders")
