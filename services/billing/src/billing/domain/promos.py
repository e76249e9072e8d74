"""Promo codes: who may use one, for what, and what it gives. Pure, no I/O.

A code gives one benefit (``contracts.billing.PromoOffer``): a percent or a fixed amount
off a purchase, free days added at once, or extra traffic with a purchase. Its limits are
a total number of uses, once per customer, validity dates, the plans it is for, and first
purchases only. ``refusal`` is the one place these are judged; the uses themselves are
counted under the code's row lock (``billing.promos``), so that no limit is passed however
many customers redeem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contracts.billing import PromoKind, PromoOffer
from contracts.money import Money


class Refusal(StrEnum):
    UNKNOWN = "promo_unknown"
    NOT_STARTED = "promo_not_started"
    EXPIRED = "promo_expired"
    EXHAUSTED = "promo_exhausted"
    USED = "promo_used"
    FIRST_PURCHASE_ONLY = "promo_first_purchase_only"
    NOT_FOR_PLAN = "promo_not_for_plan"
    CURRENCY = "promo_currency"
    NEEDS_SUBSCRIPTION = "promo_needs_subscription"


@dataclass(frozen=True, slots=True)
class Code:
    """A code as the operator made it, and how many of its uses are taken."""

    code: str
    kind: PromoKind
    percent_off: int | None = None
    amount_off: Money | None = None
    free_days: int | None = None
    extra_traffic_bytes: int | None = None
    plan_ids: tuple[str, ...] = ()
    max_uses: int | None = None
    uses: int = 0
    once_per_customer: bool = True
    first_purchase_only: bool = False
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def offer(self) -> PromoOffer:
        """What it gives, as the customer is told and the bot shows it (validated)."""
        return PromoOffer(
            code=self.code,
            kind=self.kind,
            percent_off=self.percent_off,
            amount_off=self.amount_off,
            free_days=self.free_days,
            extra_traffic_bytes=self.extra_traffic_bytes,
            plan_ids=self.plan_ids,
            valid_until=self.valid_until,
            first_purchase_only=self.first_purchase_only,
        )

    @property
    def at_purchase(self) -> bool:
        """It is redeemed with a purchase (a discount, extra traffic), not on its own."""
        return self.kind != "free_days"


@dataclass(frozen=True, slots=True)
class Customer:
    """What the limits ask about the customer redeeming."""

    has_paid: bool
    """Any order of theirs was paid (a code for first purchases is not for them)."""
    used_code: bool
    """They hold a use of this code (taken or being paid for)."""
    has_subscription: bool = True


def refusal(
    code: Code | None,
    customer: Customer,
    *,
    now: datetime,
    plan_id: str | None = None,
    price: Money | None = None,
) -> Refusal | None:
    """Why ``customer`` cannot redeem ``code`` now (for ``plan_id`` at ``price`` when it is
    redeemed with a purchase); None when they can. Checked when the code is entered, and
    again, under the code's lock, when its use is taken."""
    if code is None:
        return Refusal.UNKNOWN
    if code.valid_from is not None and now < code.valid_from:
        return Refusal.NOT_STARTED
    if code.valid_until is not None and now >= code.valid_until:
        return Refusal.EXPIRED
    if code.once_per_customer and customer.used_code:
        return Refusal.USED
    if code.max_uses is not None and code.uses >= code.max_uses:
        return Refusal.EXHAUSTED
    if code.first_purchase_only and customer.has_paid:
        return Refusal.FIRST_PURCHASE_ONLY
    if plan_id is not None and code.plan_ids and plan_id not in code.plan_ids:
        return Refusal.NOT_FOR_PLAN
    if price is not None and code.amount_off and code.amount_off.currency != price.currency:
        return Refusal.CURRENCY
    if code.kind == "free_days" and not customer.has_subscription and not code.plan_ids:
        return Refusal.NEEDS_SUBSCRIPTION
    return None
