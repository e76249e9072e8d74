"""placements: the protocol the customer chose (None: every protocol of the panel)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("placements", sa.Column("protocol", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("placements", "protocol")
