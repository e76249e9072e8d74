"""54-FZ receipts: what billing puts on one. A receipt goes with every payment (and every
refund of it) by a provider that fiscalizes, when the seller turned receipts on
(``BILLING_RECEIPTS_ENABLED``); it is sent to the e-mail the customer gave the bot."""

from __future__ import annotations

from billing.providers.base import Receipt, ReceiptLine
from contracts.money import Money

# YooKassa's limit for an item's description (payments.md §1.9).
_DESCRIPTION_MAX = 128


def receipt_for(email: str, title: str, amount: Money, *, vat_code: int) -> Receipt:
    """One line: what the order sold, at what was paid (or refunded) for it, a service
    paid in full."""
    return Receipt(
        email=email,
        lines=(ReceiptLine(description=title[:_DESCRIPTION_MAX], amount=amount),),
        vat_code=vat_code,
    )
