"""Knobs of the YooKassa emulator; the defaults are YooKassa's, except where tests need speed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

CONFIRMATION_URL_BASE = "https://yoomoney.ru/api-pages/v2/payment-confirm/epl"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How notifications are delivered and retried.

    YooKassa retries a non-200 answer for 24 hours from the event; the intervals here are
    compressed (``first_retry_delay`` seconds, doubling up to ``max_retry_delay``) so that a
    test sees a retry within a second.
    """

    first_retry_delay: float = 0.5
    max_retry_delay: float = 30.0
    horizon: float = 24 * 3600.0
    attempt_timeout: float = 10.0
    # Real deliveries come from YooKassa's networks; on loopback the only way to say so is
    # the header a trusted reverse proxy in front of the receiver would add.
    forwarded_for: str | None = "185.71.76.1"


@dataclass(frozen=True)
class YooKassaConfig:
    commission_rate: Decimal = Decimal("0.035")
    confirmation_url_base: str = CONFIRMATION_URL_BASE
    idempotence_ttl: timedelta = timedelta(hours=24)
    # Bank cards may be held for 7 days before the payment is canceled as not captured.
    capture_window: timedelta = timedelta(days=7)
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
