"""checkout screens shown by a worker instead of from the consumer

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("checkouts", sa.Column("amount_minor", sa.BigInteger(), nullable=True))
    op.add_column("checkouts", sa.Column("currency", sa.String(3), nullable=True))
    op.add_column(
        "checkouts",
        sa.Column("screen_shown", sa.String(16), nullable=False, server_default="preparing"),
    )
    op.add_column(
        "checkouts", sa.Column("screen_due_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "checkouts", sa.Column("screen_lease_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "checkouts",
        sa.Column("screen_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    # Answered checkouts were shown by the consumer; waiting ones get their slow notice due.
    op.execute(
        "UPDATE checkouts SET screen_shown = CASE WHEN status <> 'requested' THEN status "
        "WHEN slow_notice_sent THEN 'slow' ELSE 'preparing' END, "
        "screen_due_at = CASE WHEN status = 'requested' AND NOT slow_notice_sent "
        "THEN requested_at END"
    )
    op.alter_column("checkouts", "screen_shown", server_default=None)
    op.alter_column("checkouts", "screen_attempts", server_default=None)
    op.drop_column("checkouts", "slow_notice_sent")
    op.create_index(
        "ix_checkouts_screen_due_at",
        "checkouts",
        ["screen_due_at"],
        postgresql_where=sa.text("screen_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_checkouts_screen_due_at", table_name="checkouts")
    op.add_column(
        "checkouts",
        sa.Column("slow_notice_sent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute("UPDATE checkouts SET slow_notice_sent = screen_shown <> 'preparing'")
    for column in (
        "screen_attempts",
        "screen_lease_until",
        "screen_due_at",
        "screen_shown",
        "currency",
        "amount_minor",
    ):
        op.drop_column("checkouts", column)
