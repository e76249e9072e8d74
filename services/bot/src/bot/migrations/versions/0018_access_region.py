"""customer_subscriptions: the region and protocol provisioning serves the access with

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customer_subscriptions", sa.Column("region", sa.String(length=32)))
    op.add_column("customer_subscriptions", sa.Column("protocol", sa.String(length=16)))


def downgrade() -> None:
    op.drop_column("customer_subscriptions", "protocol")
    op.drop_column("customer_subscriptions", "region")
