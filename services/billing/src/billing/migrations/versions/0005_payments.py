"""every way to pay: plan names by language, prices per currency, top-ups, order kinds,
provider notifications verified by a worker (the audit moves from payment_checks)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Stars prices of the plans a fresh installation sells (0002), for Telegram Stars.
SEED_STARS_PRICES = {"m1": 150, "m3": 420, "m6": 760, "y1": 1350}
# Wallet top-ups a fresh installation sells: (id, credit in kopecks, Stars price, position).
SEED_TOPUPS = [("t300", 30000, 230, 1), ("t500", 50000, 380, 2), ("t1000", 100000, 750, 3)]


def upgrade() -> None:
    op.add_column("plans", sa.Column("titles", postgresql.JSONB(), nullable=True))
    op.execute("UPDATE plans SET titles = jsonb_build_object('ru', title_ru, 'en', title_en)")
    op.alter_column("plans", "titles", nullable=False)
    _prices_table("plan_prices", "plan_id", "plans")
    op.execute(
        "INSERT INTO plan_prices (plan_id, currency, amount_minor) "
        "SELECT plan_id, currency, price_minor FROM plans"
    )
    for plan_id, stars in SEED_STARS_PRICES.items():
        op.execute(
            sa.text(
                "INSERT INTO plan_prices (plan_id, currency, amount_minor) "
                "SELECT plan_id, 'XTR', :stars FROM plans WHERE plan_id = :plan_id"
            ).bindparams(plan_id=plan_id, stars=stars)
        )
    for column in ("title_ru", "title_en", "price_minor", "currency"):
        op.drop_column("plans", column)

    topups = op.create_table(
        "topups",
        sa.Column("topup_id", sa.String(32), nullable=False),
        sa.Column("credit_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_currency", sa.String(3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("topup_id", name=op.f("pk_topups")),
    )
    prices = _prices_table("topup_prices", "topup_id", "topups")
    op.bulk_insert(
        topups,
        [
            {
                "topup_id": topup_id,
                "credit_minor": credit,
                "credit_currency": "RUB",
                "active": True,
                "position": position,
            }
            for topup_id, credit, _, position in SEED_TOPUPS
        ],
    )
    op.bulk_insert(
        prices,
        [
            row
            for topup_id, credit, stars, _ in SEED_TOPUPS
            for row in (
                {"topup_id": topup_id, "currency": "RUB", "amount_minor": credit},
                {"topup_id": topup_id, "currency": "XTR", "amount_minor": stars},
            )
        ],
    )

    op.add_column(
        "orders", sa.Column("kind", sa.String(16), nullable=False, server_default="plan")
    )
    op.alter_column("orders", "kind", server_default=None)
    op.alter_column("orders", "plan_id", existing_type=sa.String(32), nullable=True)
    op.add_column("orders", sa.Column("topup_id", sa.String(32), nullable=True))
    op.add_column("orders", sa.Column("credit_minor", sa.BigInteger(), nullable=True))
    op.add_column("orders", sa.Column("credit_currency", sa.String(3), nullable=True))
    op.add_column(
        "orders", sa.Column("language", sa.String(35), nullable=False, server_default="ru")
    )
    op.alter_column("orders", "language", server_default=None)
    op.add_column("orders", sa.Column("title", sa.String(128), nullable=True))
    op.execute("UPDATE orders SET title = plan_id")
    op.alter_column("orders", "title", nullable=False)
    op.add_column("orders", sa.Column("provider_charge_id", sa.String(256), nullable=True))
    op.drop_constraint("uq_orders_provider_payment_id", "orders", type_="unique")
    op.create_index(
        "uq_orders_provider_payment", "orders", ["provider", "provider_payment_id"], unique=True
    )

    op.create_table(
        "provider_notifications",
        sa.Column("notification_id", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("remote_address", sa.String(64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("verified_status", sa.String(32), nullable=True),
        sa.Column("provider_payment_id", sa.String(128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("correlation_id", sa.String(128), nullable=True),
        sa.Column("trace_context", postgresql.JSONB(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_provider_notifications")),
    )
    op.create_index(
        op.f("ix_provider_notifications_reference"), "provider_notifications", ["reference"]
    )
    op.create_index(
        "ix_provider_notifications_due_at",
        "provider_notifications",
        ["due_at"],
        postgresql_where=sa.text("status = 'received'"),
    )
    # The audit so far: checks made inside the consumer, before bodies were kept.
    op.execute(
        """
        INSERT INTO provider_notifications (
            notification_id, provider, body, headers, reference, remote_address, received_at,
            status, outcome, detail, verified_status, provider_payment_id, attempts, checked_at)
        SELECT event_id || ':' || id, provider, ''::bytea, '{}'::jsonb, provider_payment_id,
            remote_address, checked_at, 'done', outcome, detail, verified_status,
            provider_payment_id, 1, checked_at
        FROM payment_checks
        """
    )
    op.drop_table("payment_checks")

    op.create_table(
        "ledger_accounts",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "kind <> 'wallet' OR balance_minor >= 0",
            name=op.f("ck_ledger_accounts_wallet_not_negative"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_ledger_accounts")),
    )
    op.create_index(op.f("ix_ledger_accounts_customer_id"), "ledger_accounts", ["customer_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entries_idempotency_key")),
    )
    op.create_index(op.f("ix_ledger_entries_customer_id"), "ledger_entries", ["customer_id"])
    op.create_table(
        "ledger_postings",
        sa.Column("posting_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.entry_id"],
            name=op.f("fk_ledger_postings_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.account_id"],
            name=op.f("fk_ledger_postings_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("posting_id", name=op.f("pk_ledger_postings")),
    )
    op.create_index(op.f("ix_ledger_postings_entry_id"), "ledger_postings", ["entry_id"])
    op.create_index(op.f("ix_ledger_postings_account_id"), "ledger_postings", ["account_id"])


def _prices_table(name: str, key: str, parent: str) -> sa.Table:
    return op.create_table(
        name,
        sa.Column(key, sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f(f"ck_{name}_positive")),
        sa.ForeignKeyConstraint(
            [key], [f"{parent}.{key}"], name=op.f(f"fk_{name}_{key}_{parent}"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(key, "currency", name=op.f(f"pk_{name}")),
    )


def downgrade() -> None:
    raise NotImplementedError("billing 0005 is not reversible: prices and audits were reshaped")
