"""traffic packs: extra traffic for a subscription's current allowance, as its own product

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

GIB = 1024**3
# (pack, GB, RUB minor, Stars): a seller's own packs replace these.
SEED_PACKS = [("gb10", 10, 4900, 25), ("gb50", 50, 14900, 75)]


def upgrade() -> None:
    packs = op.create_table(
        "traffic_packs",
        sa.Column("pack_id", sa.String(32), nullable=False),
        sa.Column("traffic_bytes", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("traffic_bytes > 0", name=op.f("ck_traffic_packs_traffic")),
        sa.PrimaryKeyConstraint("pack_id", name=op.f("pk_traffic_packs")),
    )
    prices = op.create_table(
        "traffic_pack_prices",
        sa.Column("pack_id", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_traffic_pack_prices_positive")),
        sa.ForeignKeyConstraint(
            ["pack_id"],
            ["traffic_packs.pack_id"],
            name=op.f("fk_traffic_pack_prices_pack_id_traffic_packs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pack_id", "currency", name=op.f("pk_traffic_pack_prices")),
    )
    op.bulk_insert(
        packs,
        [
            {"pack_id": pack, "traffic_bytes": gb * GIB, "active": True, "position": position}
            for position, (pack, gb, _, _) in enumerate(SEED_PACKS, start=1)
        ],
    )
    op.bulk_insert(
        prices,
        [
            {"pack_id": pack, "currency": currency, "amount_minor": amount}
            for pack, _, rub, stars in SEED_PACKS
            for currency, amount in (("RUB", rub), ("XTR", stars))
        ],
    )
    op.add_column("orders", sa.Column("pack_id", sa.String(32), nullable=True))
    op.add_column(
        "subscriptions",
        sa.Column(
            "extra_traffic_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
    )
    op.alter_column("subscriptions", "extra_traffic_bytes", server_default=None)


def downgrade() -> None:
    op.drop_column("subscriptions", "extra_traffic_bytes")
    op.drop_column("orders", "pack_id")
    op.drop_table("traffic_pack_prices")
    op.drop_table("traffic_packs")
