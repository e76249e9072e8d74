"""Plan changes: what buying another plan does to a running subscription, free of I/O.

Plans have a tier (their level of service). A paid plan of the *same* tier is a renewal:
its period follows the current end, and its allowance starts at payment (as ever). A
*higher* tier is an upgrade: it starts at once, and what is left of the periods paid at
the old plan is credited as time on the new one, at the new plan's price (so the customer
neither pays twice for the same days nor loses them). A *lower* tier is a downgrade: the
customer keeps what they have until the end of the time paid for it, and the new plan
applies from there. A subscription no longer served (after its end) starts again whatever
it buys: a renewal.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from contracts.money import Money


class Change(enum.StrEnum):
    RENEWAL = "renewal"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"


def change_of(current_tier: int, new_tier: int, *, time_ahead: bool) -> Change:
    """What an order of ``new_tier`` is to a subscription of ``current_tier``; with no
    paid time ahead (it ended, or never began) anything bought starts afresh."""
    if not time_ahead or new_tier == current_tier:
        return Change.RENEWAL
    return Change.UPGRADE if new_tier > current_tier else Change.DOWNGRADE


@dataclass(frozen=True, slots=True)
class Ahead:
    """A period bought for the subscription that is not over yet, and what it was worth:
    what was paid for it (net of refunds), or for time given free (free days, a referral
    bonus) the old plan's list price for that time; None when it has no price to go by."""

    start: datetime
    end: datetime
    value: Money | None

    def unused(self, now: datetime) -> timedelta:
        return max(self.end - max(self.start, now), timedelta(0))


def daily(price: Money, nominal_days: int) -> Decimal:
    """A plan's price per day in minor units (a month plan by its nominal days)."""
    return Decimal(price.amount_minor) / Decimal(nominal_days)


_DAY = Decimal(86_400)

# The most time an upgrade credits. A new plan priced far below the old one per day (a
# misconfigured price, a one-kopek test plan) would otherwise turn a few roubles into
# centuries, past what a date can hold; ten years is more than any real credit.
MAX_CREDIT = timedelta(days=3653)


def credit(ahead: Iterable[Ahead], now: datetime, new_daily: Mapping[str, Decimal]) -> timedelta:
    """The unused part of what was bought, as time on the new plan, in whole hours (down).

    Each period's share still ahead is valued at its share of what it was worth, and
    bought back at the new plan's price per day in the same currency. A period with no
    value, or in a currency the new plan has no price in, counts its time as it is.
    Never more than ``MAX_CREDIT``.
    """
    seconds = Decimal(0)
    for period in ahead:
        unused = period.unused(now)
        if unused <= timedelta(0):
            continue
        length = (period.end - period.start).total_seconds()
        value = period.value
        per_day = new_daily.get(value.currency) if value is not None else None
        if value is None or not per_day or length <= 0:
            seconds += Decimal(unused.total_seconds())
            continue
        share = Decimal(value.amount_minor) * Decimal(unused.total_seconds()) / Decimal(length)
        seconds += share / per_day * _DAY
    hours = (seconds / 3600).to_integral_value(rounding=ROUND_FLOOR)
    cap = Decimal(MAX_CREDIT.total_seconds() / 3600)
    return timedelta(hours=int(min(hours, cap)))
