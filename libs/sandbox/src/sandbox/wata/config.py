"""Knobs of the WATA emulator; the defaults are WATA's, except where tests need speed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Final

# The doc shows ``"url": "string"``; this is the shape integrations show for the hosted form.
PAYMENT_FORM_URL_BASE: Final = "https://payment.wata.pro/pay-form"
# One of the two addresses integrations allowlist for WATA's webhooks (shared/reference §2.8).
WATA_WEBHOOK_IP: Final = "62.84.126.140"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How webhooks are delivered and retried.

    WATA retries a post-payment or refund webhook "with increasing interval" for 32 hours
    until it gets a 200; the intervals here are compressed (``first_retry_delay`` seconds,
    doubling up to ``max_retry_delay``) so that a test sees a retry within a second.
    """

    first_retry_delay: float = 0.5
    max_retry_delay: float = 30.0
    horizon: float = 32 * 3600.0
    attempt_timeout: float = 60.0
    # Real webhooks come from WATA's networks; on loopback the only way to say so is the
    # header a trusted reverse proxy in front of the receiver would add. None: no header.
    forwarded_for: str | None = WATA_WEBHOOK_IP


@dataclass(frozen=True)
class WataConfig:
    # 8.97 on 299.00 in the reference's transaction example.
    commission_rate: Decimal = Decimal("0.03")
    payment_form_url_base: str = PAYMENT_FORM_URL_BASE
    default_link_lifetime: timedelta = timedelta(days=3)
    min_link_lifetime: timedelta = timedelta(minutes=10)
    max_link_lifetime: timedelta = timedelta(days=30)
    # GET by id and the searches answer one request per object per window, then 429.
    # None turns the limit off (benchmarks that poll on purpose).
    rate_limit_window: timedelta | None = timedelta(seconds=30)
    key_size: int = 2048
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
