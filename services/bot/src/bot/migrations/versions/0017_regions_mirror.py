"""the regions catalog mirror, and the region and protocol a customer chose for a purchase

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "regions_mirror",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("catalog_version", sa.Integer(), nullable=False),
        sa.Column("regions", postgresql.JSONB(), nullable=False),
        sa.Column("default_region", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions_mirror")),
    )
    op.add_column("customers", sa.Column("chosen_region", sa.String(length=32), nullable=True))
    op.add_column("customers", sa.Column("chosen_protocol", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "chosen_protocol")
    op.drop_column("customers", "chosen_region")
    op.drop_table("regions_mirror")
