"""price quotes and experiments: every price shown is a quote a checkout names

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "price_experiments",
        sa.Column("experiment_id", sa.String(32), nullable=False),
        sa.Column("plan_ids", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_price_experiments")),
    )
    op.create_table(
        "price_variants",
        sa.Column("experiment_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(16), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("overrides", postgresql.JSONB(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["price_experiments.experiment_id"],
            name=op.f("fk_price_variants_experiment_id_price_experiments"),
        ),
        sa.PrimaryKeyConstraint("experiment_id", "name", name=op.f("pk_price_variants")),
    )
    op.create_table(
        "price_quotes",
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("experiment_id", sa.String(32), nullable=True),
        sa.Column("variant", sa.String(16), nullable=True),
        sa.Column("prices", postgresql.JSONB(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("quote_id", name=op.f("pk_price_quotes")),
    )
    op.create_index(
        "ix_price_quotes_offered",
        "price_quotes",
        ["plan_id"],
        postgresql_where=sa.text("withdrawn_at IS NULL"),
    )
    op.add_column("orders", sa.Column("quote_id", sa.Uuid(), nullable=True))
    op.add_column("orders", sa.Column("experiment_id", sa.String(32), nullable=True))
    op.add_column("orders", sa.Column("variant", sa.String(16), nullable=True))
    op.create_index(
        "ix_orders_experiment",
        "orders",
        ["experiment_id", "variant"],
        postgresql_where=sa.text("experiment_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_experiment", table_name="orders")
    op.drop_column("orders", "variant")
    op.drop_column("orders", "experiment_id")
    op.drop_column("orders", "quote_id")
    op.drop_index("ix_price_quotes_offered", table_name="price_quotes")
    op.drop_table("price_quotes")
    op.drop_table("price_variants")
    op.drop_table("price_experiments")
