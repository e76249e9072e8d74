"""Refunds' rules: what may be given back, and what giving it back takes. Pure, no I/O.

An order can be refunded in parts until all that was paid is back. What a refund takes
with the money is its share of what the order bought: a plan order's period (removed from
the subscription's end, never reaching before the moment of the refund) or a top-up's
credit (taken from the wallet). Shares are computed on the running total, so that parts
add up exactly to the whole: two halves remove the same period, to the second, as one
full refund does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from billing.domain.orders import OrderKind, OrderStatus
from billing.providers import WALLET
from billing.providers.base import Capabilities
from contracts.money import Money


class RefundStatus(enum.StrEnum):
    REQUESTED = "requested"
    """Recorded; the refund worker is to ask the provider."""
    PENDING = "pending"
    """The provider accepted it and will tell when it went through."""
    SUCCEEDED = "succeeded"
    """Applied: the ledger, the order and the subscription know."""
    FAILED = "failed"
    """Refused by the provider, or it never answered: nothing was given back."""


IN_FLIGHT = frozenset({RefundStatus.REQUESTED, RefundStatus.PENDING})
"""Asked for and not settled: the amount is held against the order."""


class RefundSource(enum.StrEnum):
    OPERATOR = "operator"
    """Asked through billing (the command, later the admin API)."""
    PROVIDER = "provider"
    """Made at the provider (its cabinet) and reported by its notification."""


class RefundRefused(Exception):
    """Why a refund cannot be made, as a reason code and a sentence for the operator."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Refundable:
    """What the rules need to know of an order and its refunds so far."""

    status: OrderStatus
    kind: OrderKind
    paid: Money
    provider: str
    held_minor: int
    """Refunded already, or asked for and not settled (``IN_FLIGHT``)."""

    @property
    def left(self) -> Money:
        return Money(
            amount_minor=max(0, self.paid.amount_minor - self.held_minor),
            currency=self.paid.currency,
        )


def amount_to_refund(order: Refundable, requested: Decimal | str | None) -> Money:
    """The amount of a new refund, in the order's currency; all that is left when none
    is given. Raises :class:`RefundRefused`."""
    if order.status is OrderStatus.REFUNDED:
        raise RefundRefused("order_refunded", "the order is refunded in full already")
    if order.status is not OrderStatus.PAID:
        raise RefundRefused("order_not_paid", f"the order is {order.status}, not paid")
    left = order.left
    if requested is None:
        if left.amount_minor == 0:
            raise RefundRefused("nothing_left", "all that was paid is refunded or being refunded")
        return left
    try:
        major = Decimal(requested)
    except ArithmeticError:
        raise RefundRefused("amount_invalid", f"{requested!r} is not an amount") from None
    if not major.is_finite() or major <= 0:
        raise RefundRefused("amount_not_positive", f"a refund must be positive, not {requested}")
    try:
        amount = Money.from_decimal(major, order.paid.currency)
    except ValueError as exc:
        raise RefundRefused("amount_invalid", f"{requested} {order.paid.currency}: {exc}") from None
    if amount.amount_minor > left.amount_minor:
        raise RefundRefused(
            "amount_exceeds_paid",
            f"{amount} is more than is left to refund ({left} of {order.paid} paid)",
        )
    return amount


def check_method(order: Refundable, amount: Money, capabilities: Capabilities | None) -> None:
    """The way the order was paid can give ``amount`` back; raises :class:`RefundRefused`.

    ``capabilities`` is None for the wallet (no provider to ask) and for a provider this
    deployment does not run.
    """
    if order.provider == WALLET:
        return
    if capabilities is None:
        raise RefundRefused(
            "provider_not_configured", f"{order.provider} is not configured: it cannot be asked"
        )
    if not capabilities.refunds:
        raise RefundRefused(
            "provider_cannot_refund",
            f"{order.provider} cannot refund through billing: refund in its cabinet",
        )
    if amount != order.paid and not capabilities.partial_refunds:
        raise RefundRefused(
            "partial_not_supported",
            f"{order.provider} refunds only the whole payment ({order.paid}), not {amount}",
        )


def share(whole: int, paid_minor: int, refunded_minor: int) -> int:
    """``whole``'s share for ``refunded_minor`` of ``paid_minor``, rounded down: the
    share of all that was paid is ``whole`` exactly."""
    if not 0 <= refunded_minor <= paid_minor or paid_minor <= 0:
        raise ValueError(f"{refunded_minor} is not part of {paid_minor}")
    return whole * refunded_minor // paid_minor


def credit_taken(credit: Money, paid: Money, before_minor: int, amount: Money) -> Money:
    """What a top-up's refund takes from the wallet: its share of the credit bought."""
    after = before_minor + amount.amount_minor
    taken = share(credit.amount_minor, paid.amount_minor, after) - share(
        credit.amount_minor, paid.amount_minor, before_minor
    )
    return Money(amount_minor=taken, currency=credit.currency)


@dataclass(frozen=True, slots=True)
class Shortening:
    period_end: datetime
    previous_end: datetime
    ended: bool
    """Access ends at once: the refund took back time the customer was using now."""


def shortened(
    *,
    current_end: datetime,
    now: datetime,
    bought: timedelta,
    paid_minor: int,
    before_minor: int,
    amount_minor: int,
) -> Shortening | None:
    """The subscription's new end after a plan order's refund; None when it keeps its end.

    The refunded share of the price removes the same share of the order's period (``bought``
    long) from the end, whichever of the subscription's periods the order paid for; the end
    never moves before ``now`` (time already used is not given back twice), and an end
    already past is left alone.
    """
    if current_end <= now:
        return None
    seconds = int(bought.total_seconds())
    removed = share(seconds, paid_minor, before_minor + amount_minor) - share(
        seconds, paid_minor, before_minor
    )
    end = max(now, current_end - timedelta(seconds=removed))
    if end >= current_end:
        return None
    return Shortening(period_end=end, previous_end=current_end, ended=end <= now)
