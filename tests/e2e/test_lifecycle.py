"""The life of a subscription end to end, on billing's clock moved by the test: the
reminders come before the end, once each, with a "Renew" button that opens the checkout
in one tap; a renewed subscription is not told that its old end passed."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from chassis.clock import OffsetClock
from devstack.customer import buttons, subscription_link

from .conftest import Shop, wait_until

pytestmark = pytest.mark.e2e

CLOCK = Path(tempfile.mkdtemp(prefix="vpn-e2e-clock-")) / "clock"
SHOP_ENV = {"BILLING_CLOCK_FILE": str(CLOCK), "BILLING_TIMERS_POLL_S": "0.3"}
ACCESS_READY = "Доступ к VPN готов"
ENDS_SOON = "закончится через"
ENDED = "Подписка на VPN закончилась"


async def texts(shop: Shop, user_id: int, marker: str) -> list[str]:
    transcript = await shop.telegram.transcript(user_id)
    return [m.text or "" for m in transcript.bot_messages() if marker in (m.text or "")]


async def test_reminders_come_once_and_renew_opens_the_checkout(shop: Shop) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1")
    await customer.pay(link)
    subscription_link(await customer.wait_for(ACCESS_READY))

    # 27 days later: 72 hours before the end.
    OffsetClock.move(CLOCK, timedelta(days=27, seconds=5))
    reminder = await customer.wait_for("72 часа", timeout_s=20)
    assert ENDS_SOON in (reminder.text or "")
    assert [b.get("callback_data") for b in buttons(reminder)] == ["plan:m1"]

    # "Renew" opens the plan's ways to pay in place; paying renews.
    customer.screen = reminder
    await customer.press("plan:m1", expect="Как оплатить?")
    renewal = await customer.pay_on_screen("m1", "yookassa")
    await customer.pay(renewal)
    await wait_until(lambda: _count(shop, customer.user_id, ACCESS_READY, 2), timeout_s=30)

    # Past the old end: nothing about it (the new end has its own reminders).
    OffsetClock.move(CLOCK, timedelta(days=3, seconds=5))
    await asyncio.sleep(2.0)
    assert await texts(shop, customer.user_id, ENDED) == []
    # The one reminder became the checkout; no other came (not the old end's 24 hours).
    assert await texts(shop, customer.user_id, ENDS_SOON) == []


async def _count(shop: Shop, user_id: int, marker: str, count: int) -> bool:
    return len(await texts(shop, user_id, marker)) >= count


async def test_a_customer_who_turned_reminders_off_gets_none(shop: Shop) -> None:
    customer = await shop.customer()
    await customer.start()
    await customer.press("m:settings", expect="Напоминания")
    await customer.press("rem:0", expect="выключены")
    await customer.press("m:home")
    link = await customer.buy("m1")
    await customer.pay(link)
    await customer.wait_for(ACCESS_READY)  # payment and access messages still come

    OffsetClock.move(CLOCK, timedelta(days=31))  # past every reminder of this period
    await asyncio.sleep(3.0)
    assert await texts(shop, customer.user_id, ENDS_SOON) == []
    assert await texts(shop, customer.user_id, ENDED) == []
