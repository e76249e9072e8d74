"""placements: the panel a failover first moved the user away from (drained back to it
where the region's move-back policy is drain)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("placements", sa.Column("home_panel_id", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_placements_home",
        "placements",
        ["home_panel_id"],
        unique=False,
        postgresql_where=sa.text("home_panel_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_placements_home", table_name="placements")
    op.drop_column("placements", "home_panel_id")
