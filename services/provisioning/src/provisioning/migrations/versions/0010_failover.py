"""placements: the panels a failover moved a user away from, whose users are stale

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "placements",
        sa.Column(
            "stale_panels",
            postgresql.ARRAY(sa.String(length=64)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.alter_column("placements", "stale_panels", server_default=None)
    op.add_column("placements", sa.Column("moved_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_placements_stale",
        "placements",
        ["subscription_id"],
        unique=False,
        postgresql_where=sa.text("cardinality(stale_panels) > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_placements_stale", table_name="placements")
    op.drop_column("placements", "moved_at")
    op.drop_column("placements", "stale_panels")
