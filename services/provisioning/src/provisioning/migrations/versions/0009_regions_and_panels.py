"""regions and panels as provisioning's own data; a placement may wait for a panel

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("names", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("flag", sa.String(length=16), nullable=False),
        sa.Column("fallbacks", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("move_back", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("move_back IN ('stay', 'drain')", name=op.f("ck_regions_move_back")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    op.create_table(
        "panels",
        sa.Column("panel_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_ref", sa.Text(), nullable=False),
        sa.Column("subscription_base_url", sa.Text(), nullable=True),
        sa.Column("protocols", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("health_reason", sa.Text(), nullable=True),
        sa.Column("health_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_panels_capacity")),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_panels_weight")),
        sa.ForeignKeyConstraint(
            ["region"], ["regions.code"], name=op.f("fk_panels_region_regions")
        ),
        sa.PrimaryKeyConstraint("panel_id", name=op.f("pk_panels")),
    )
    op.create_index(op.f("ix_panels_region"), "panels", ["region"], unique=False)
    op.create_table(
        "catalog_publications",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_catalog_publications")),
    )
    op.alter_column("placements", "panel_id", existing_type=sa.String(length=64), nullable=True)
    op.create_index(op.f("ix_placements_panel_id"), "placements", ["panel_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_placements_panel_id"), table_name="placements")
    op.alter_column("placements", "panel_id", existing_type=sa.String(length=64), nullable=False)
    op.drop_table("catalog_publications")
    op.drop_index(op.f("ix_panels_region"), table_name="panels")
    op.drop_table("panels")
    op.drop_table("regions")
