"""placements

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "placements",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("panel_id", sa.String(64), nullable=False),
        sa.Column("panel_username", sa.String(32), nullable=False),
        sa.Column("desired_expire", sa.DateTime(timezone=True), nullable=False),
        sa.Column("desired_traffic_limit_bytes", sa.BigInteger(), nullable=False),
        sa.Column("desired_version", sa.Integer(), nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=False),
        sa.Column("on_panel", sa.Boolean(), nullable=False),
        sa.Column("subscription_url", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failure_reported", sa.Boolean(), nullable=False),
        sa.Column("gave_up", sa.Boolean(), nullable=False),
        sa.Column("trace_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_placements")),
        sa.UniqueConstraint("panel_username", name=op.f("uq_placements_panel_username")),
    )
    op.create_index(op.f("ix_placements_customer_id"), "placements", ["customer_id"])
    op.create_index(
        "ix_placements_pending",
        "placements",
        ["next_attempt_at"],
        postgresql_where=sa.text("applied_version < desired_version AND NOT gave_up"),
    )


def downgrade() -> None:
    op.drop_table("placements")
