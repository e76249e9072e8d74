"""customer segments: what was last published of each customer's, when they are due again;
the region of each subscription's access

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("region", sa.String(32), nullable=True))
    op.create_table(
        "customer_segments",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column(
            "segments", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("region", sa.String(32), nullable=True),
        sa.Column("next_change_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_segments")),
    )
    op.create_index(
        "ix_customer_segments_next_change_at",
        "customer_segments",
        ["next_change_at"],
        postgresql_where=sa.text("next_change_at IS NOT NULL"),
    )
    # Every customer known so far is due for a first computation; new ones get their row
    # when they register.
    op.execute(
        "INSERT INTO customer_segments (customer_id, next_change_at) "
        "SELECT customer_id, now() FROM customers"
    )


def downgrade() -> None:
    op.drop_index("ix_customer_segments_next_change_at", table_name="customer_segments")
    op.drop_table("customer_segments")
    op.drop_column("subscriptions", "region")
