"""due times (chassis.timers): subscription reminders

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from chassis.migrations import create_timers_schema_v1, drop_timers_schema_v1

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_timers_schema_v1()


def downgrade() -> None:
    drop_timers_schema_v1()
