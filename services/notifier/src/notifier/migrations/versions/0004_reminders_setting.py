"""whether a customer wants the reminders about their subscription's end

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "contacts",
        sa.Column("reminders", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.alter_column("contacts", "reminders", server_default=None)


def downgrade() -> None:
    op.drop_column("contacts", "reminders")
