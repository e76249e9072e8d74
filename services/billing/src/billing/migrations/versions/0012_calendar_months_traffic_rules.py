"""plans in calendar months and their traffic rules; orders keep them, and the period they
bought; subscriptions their anchor day

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _rules(table: str) -> None:
    # What every plan did so far: days, one allowance for the period, the rest carried over.
    op.add_column(
        table, sa.Column("duration_months", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        table,
        sa.Column("traffic_carry_over", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        table, sa.Column("traffic_reset", sa.String(8), nullable=False, server_default="none")
    )
    for column in ("duration_months", "traffic_carry_over", "traffic_reset"):
        op.alter_column(table, column, server_default=None)


def upgrade() -> None:
    _rules("plans")
    op.create_check_constraint(
        op.f("ck_plans_traffic_reset"), "plans", "traffic_reset IN ('none', 'month')"
    )
    # A monthly reset starts each month afresh: nothing is carried into it.
    op.create_check_constraint(
        op.f("ck_plans_carry_or_reset"), "plans", "NOT (traffic_carry_over AND traffic_reset = 'month')"
    )
    op.create_check_constraint(op.f("ck_plans_duration_months"), "plans", "duration_months >= 0")
    _rules("orders")
    op.add_column("orders", sa.Column("period_start", sa.DateTime(timezone=True)))
    op.add_column("orders", sa.Column("period_end", sa.DateTime(timezone=True)))
    op.add_column("subscriptions", sa.Column("anchor_day", sa.SmallInteger()))
    for table in ("autopay_consents", "autopays"):
        op.add_column(
            table, sa.Column("period_months", sa.Integer(), nullable=False, server_default="0")
        )
        op.alter_column(table, "period_months", server_default=None)


def downgrade() -> None:
    op.drop_column("autopays", "period_months")
    op.drop_column("autopay_consents", "period_months")
    op.drop_column("subscriptions", "anchor_day")
    for column in ("period_end", "period_start", "traffic_reset", "traffic_carry_over"):
        op.drop_column("orders", column)
    op.drop_column("orders", "duration_months")
    for name in ("ck_plans_duration_months", "ck_plans_carry_or_reset", "ck_plans_traffic_reset"):
        op.drop_constraint(op.f(name), "plans")
    for column in ("traffic_reset", "traffic_carry_over", "duration_months"):
        op.drop_column("plans", column)
