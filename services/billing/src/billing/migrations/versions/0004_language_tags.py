"""a customer's language is any BCP 47 tag (up to 35 characters), not a two-letter code

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("customers", "language", type_=sa.String(35), existing_nullable=False)


def downgrade() -> None:
    op.alter_column("customers", "language", type_=sa.String(8), existing_nullable=False)
