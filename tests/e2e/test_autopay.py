"""Automatic renewal end to end: a customer reads the terms, agrees, pays once with a card
YooKassa saves, and the platform renews from that card by itself, extending access only
after the charge succeeded; declines are told once; turning it off in the bot stops it.

Time is compressed by the settings rather than a clock: renewals are charged 31 days
ahead of the end, so a 30-day plan's renewal is due the moment autopay is on (and the one
after it is not). Each test decides the card's next charges in the sandbox before it pays.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.customer import SimulatedCustomer, subscription_link

from .conftest import GRACE, Shop, wait_until
from .test_purchase import panel_username

pytestmark = pytest.mark.e2e

_DAY_S = 24 * 3600
SHOP_ENV = {
    "BILLING_AUTOPAY_CHARGE_BEFORE_S": str(31 * _DAY_S),
    "BILLING_AUTOPAY_NOTICE_BEFORE_S": str(31 * _DAY_S),
    "BILLING_AUTOPAY_RETRY_DELAYS_S": "0.5,0.5",
    "BILLING_AUTOPAY_POLL_S": "0.3",
}
ACCESS_READY = "Доступ к VPN готов"
ENABLED = "Автопродление включено"
FAILED = "Автопродление не прошло"


async def texts(shop: Shop, customer: SimulatedCustomer, marker: str) -> list[str]:
    transcript = await shop.telegram.transcript(customer.user_id)
    return [m.text or "" for m in transcript.bot_messages() if marker in (m.text or "")]


async def charges(shop: Shop, method_id: str) -> list[str]:
    return list((await shop.yookassa.payment_method(method_id))["charges"])


async def panel_user(shop: Shop, link: str) -> dict[str, Any]:
    user = await shop.marzban.user(panel_username(link))
    assert user is not None
    return user


async def subscription_showing(customer: SimulatedCustomer, marker: str) -> None:
    """ "My subscription" once it shows ``marker`` (the bot hears of billing's changes a
    moment after they happen)."""

    async def shown() -> bool:
        await customer.start()
        return marker in ((await customer.press("m:subscription")).text or "")

    await wait_until(shown, timeout_s=20)


async def renewing_customer(shop: Shop, **planned: Any) -> tuple[SimulatedCustomer, str, str]:
    """A customer who agreed to renew `m1` and paid; returns them, the saved method's id
    (the first payment's) and their subscription link. ``planned``: the card's next
    charges, decided before the customer pays."""
    customer = await shop.customer()
    await customer.start()
    await customer.open_catalog()
    link = await customer.checkout_renewing("m1")
    assert "199\u00a0₽" in (link.message.text or "")
    if planned:
        await shop.yookassa.plan_charges(link.payment_id, **planned)
    await customer.pay(link)
    access = await customer.wait_for(ACCESS_READY)
    return customer, link.payment_id, subscription_link(access)


async def test_a_renewal_is_charged_from_the_saved_card_and_extends_access(shop: Shop) -> None:
    customer, method, url = await renewing_customer(shop)
    paid_at = datetime.now(UTC)
    enabled = await customer.wait_for(ENABLED)
    assert "Bank card *4477" in (enabled.text or "")

    # The renewal is due at once here: charged, then access runs 30 days longer.
    await wait_until(lambda: _charged(shop, method, 1), timeout_s=30)
    await wait_until(
        lambda: _expires_near(shop, url, paid_at + timedelta(days=60) + GRACE), timeout_s=30
    )
    (charge_id,) = await charges(shop, method)
    charge = await shop.yookassa.payment(charge_id)
    assert charge["payment_method_id"] == method
    assert charge["payment"]["status"] == "succeeded"
    user = await panel_user(shop, url)
    assert user["status"] == "active"
    await wait_until(lambda: _count(shop, customer, ACCESS_READY, 2), timeout_s=30)

    # The next renewal is a period away: nothing more is charged now.
    await asyncio.sleep(1.5)
    assert len(await charges(shop, method)) == 1
    await subscription_showing(customer, "Автопродление включено")


async def test_declined_renewals_are_told_once_and_access_is_not_extended(shop: Shop) -> None:
    customer, method, url = await renewing_customer(
        shop, status="canceled", reason="insufficient_funds", count=3
    )
    first_end = (await panel_user(shop, url))["expire"]

    # The first try and both retries are declined; then autopay stops.
    await wait_until(lambda: _charged(shop, method, 3), timeout_s=30)
    await customer.wait_for(FAILED)
    await asyncio.sleep(1.5)
    assert len(await charges(shop, method)) == 3
    assert len(await texts(shop, customer, FAILED)) == 1
    assert (await panel_user(shop, url))["expire"] == first_end
    await subscription_showing(customer, "Автопродление выключено")


async def test_turned_off_in_the_bot_nothing_follows_the_charge_in_flight(shop: Shop) -> None:
    """The bank holds the first renewal; the customer turns autopay off; the bank then
    declines it. Nothing is tried again and the customer is not told of a failure."""
    customer, method, url = await renewing_customer(shop, status="pending")
    await wait_until(lambda: _charged(shop, method, 1), timeout_s=30)
    first_end = (await panel_user(shop, url))["expire"]

    await subscription_showing(customer, "Автопродление включено")
    off = await customer.press("apoff", expect="Автопродление отключено")
    assert "ничего списываться не будет" in (off.text or "")

    (held,) = await charges(shop, method)
    await shop.yookassa.cancel(held, reason="insufficient_funds", party="payment_network")
    await asyncio.sleep(2.0)  # more than the retry delay and the worker's poll
    assert await charges(shop, method) == [held]
    assert await texts(shop, customer, FAILED) == []
    assert (await panel_user(shop, url))["expire"] == first_end
    await subscription_showing(customer, "Автопродление выключено")


async def _charged(shop: Shop, method: str, count: int) -> bool:
    return len(await charges(shop, method)) >= count


async def _expires_near(shop: Shop, url: str, when: datetime) -> bool:
    expire = datetime.fromtimestamp((await panel_user(shop, url))["expire"], UTC)
    return abs(expire - when) < timedelta(minutes=2)


async def _count(shop: Shop, customer: SimulatedCustomer, marker: str, count: int) -> bool:
    return len(await texts(shop, customer, marker)) >= count
