"""Autopay's rules: when a period is reminded of and charged, what a declined charge leads
to, what a renewal may charge, and the key that names each charge. Pure, no I/O.

A subscription ending at ``period_end`` is charged ``charge_before`` ahead of it, after a
reminder ``notice_before`` ahead (the Union State rules want three days). A declined
charge is tried again after each of ``retry_delays`` in turn; the customer is told once,
at the first decline of the period. A decline that says the method itself is dead stops
autopay at once: it is never tried again.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from contracts.money import Money

_CHARGES: Final = uuid.UUID("8c3f5a0e-7d21-4b9e-a6f4-2e9d0c7b1a53")


class OffReason(enum.StrEnum):
    """Why autopay is off (``AutopayChanged.reason``)."""

    CUSTOMER = "customer"
    PERMISSION_REVOKED = "permission_revoked"
    """The customer withdrew consent with the provider (YooKassa's own cancellation)."""
    METHOD_UNUSABLE = "method_unusable"
    """The saved method can no longer be charged (an expired or restricted card)."""
    CHARGES_FAILED = "charges_failed"
    PROVIDER_REJECTED = "provider_rejected"
    PLAN_UNAVAILABLE = "plan_unavailable"
    PRICE_RAISED = "price_raised"
    """The plan now costs more than the customer agreed to be charged."""
    SUBSCRIPTION_REFUNDED = "subscription_refunded"


# Declines after which the same method cannot succeed (YooKassa's cancellation reasons).
_DEAD_METHOD: Final[dict[str, OffReason]] = {
    "permission_revoked": OffReason.PERMISSION_REVOKED,
    "card_expired": OffReason.METHOD_UNUSABLE,
    "invalid_card_number": OffReason.METHOD_UNUSABLE,
    "payment_method_restricted": OffReason.METHOD_UNUSABLE,
    "country_forbidden": OffReason.METHOD_UNUSABLE,
    "identification_required": OffReason.METHOD_UNUSABLE,
}


@dataclass(frozen=True, slots=True)
class Schedule:
    charge_before: timedelta
    notice_before: timedelta
    retry_delays: tuple[timedelta, ...]

    def __post_init__(self) -> None:
        if self.charge_before <= timedelta(0):
            raise ValueError("a renewal is charged some time before the period ends")
        if self.notice_before < self.charge_before:
            raise ValueError("the reminder comes before the charge")

    def charge_at(self, period_end: datetime, now: datetime) -> datetime:
        return max(period_end - self.charge_before, now)

    def notice_at(self, period_end: datetime, now: datetime) -> datetime | None:
        """When to remind of the charge; None when that moment has passed (the message that
        scheduled the charge, or a period shorter than the notice, said when instead)."""
        at = period_end - self.notice_before
        return at if at > now else None


class Tell(enum.StrEnum):
    CHARGE_FAILED = "charge_failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Decline:
    """What one declined charge leads to."""

    declines: int
    """This period's declines, this one included."""
    stop: OffReason | None
    retry_at: datetime | None
    tell: Tell | None
    retries_left: int


def after_decline(declines_before: int, reason: str, schedule: Schedule, now: datetime) -> Decline:
    declines = declines_before + 1
    dead = _DEAD_METHOD.get(reason)
    if dead is not None:
        return Decline(declines, dead, None, Tell.STOPPED, 0)
    retries_left = len(schedule.retry_delays) - declines + 1
    first = declines == 1
    if retries_left <= 0:
        # Told at the first decline that this was the last try (when there are no retries).
        return Decline(
            declines, OffReason.CHARGES_FAILED, None, Tell.CHARGE_FAILED if first else None, 0
        )
    retry_at = now + schedule.retry_delays[declines - 1]
    return Decline(declines, None, retry_at, Tell.CHARGE_FAILED if first else None, retries_left)


def renewal_price(
    consented: Money, current: Money | None, *, plan_active: bool
) -> Money | OffReason:
    """What a renewal charges: the plan's price now, never more than the customer agreed."""
    if current is None or not plan_active:
        return OffReason.PLAN_UNAVAILABLE
    if current.currency != consented.currency or current.amount_minor > consented.amount_minor:
        return OffReason.PRICE_RAISED
    return current


def charge_key(subscription_id: uuid.UUID, period_end: datetime, declines: int) -> uuid.UUID:
    """The checkout id (and so the provider's idempotence key) of one charge.

    One per subscription period and try: a retry after an unknown outcome repeats the key
    (the provider answers with the payment it made), a retry after a decline is a new one.
    """
    return uuid.uuid5(_CHARGES, f"{subscription_id}:{period_end.isoformat()}:{declines}")
