"""the access's status on the panel, for "My subscription"

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
    op.add_column(
        "customer_subscriptions", sa.Column("access_status", sa.String(16), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("customer_subscriptions", "access_status")
