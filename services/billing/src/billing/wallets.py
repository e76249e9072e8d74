"""A wallet's changes as the event the bot and the gateway follow balances by."""

from __future__ import annotations

from datetime import UTC, datetime

from billing.domain.ledger import Entry
from billing.ledger import WalletMove
from contracts.billing import WalletChanged
from contracts.money import Money


def changed(entry: Entry, move: WalletMove, at: datetime | None = None) -> WalletChanged:
    """The event for one wallet posting of ``entry``; the customer is the wallet's owner."""
    customer_id = move.account.customer_id
    assert customer_id is not None
    currency = move.account.currency
    return WalletChanged(
        customer_id=customer_id,
        entry_key=entry.key,
        kind=entry.kind,
        credited=move.amount_minor > 0,
        amount=Money(amount_minor=abs(move.amount_minor), currency=currency),
        balance=Money(amount_minor=move.balance_minor, currency=currency),
        order_id=entry.order_id,
        changed_at=at or datetime.now(UTC),
    )
