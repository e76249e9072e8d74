"""regional prices: a plan's prices per region, the regions provisioning publishes, and
the region of a quote

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_region_prices",
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_plan_region_prices_positive")),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.plan_id"],
            name=op.f("fk_plan_region_prices_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "plan_id", "region", "currency", name=op.f("pk_plan_region_prices")
        ),
    )
    op.create_table(
        "regions_mirror",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("catalog_version", sa.Integer(), nullable=False),
        sa.Column("regions", postgresql.JSONB(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions_mirror")),
    )
    op.add_column("price_quotes", sa.Column("region", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("price_quotes", "region")
    op.drop_table("regions_mirror")
    op.drop_table("plan_region_prices")
