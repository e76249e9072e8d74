"""Usage and quotas, end to end: a subscriber's traffic, pushed on the Marzban sandbox, is
seen by provisioning's panel watch (two replicas of it here), and the customer is told
at 80 % and at 100 % of the allowance, once each however often the panel is read; "My
subscription" shows what was used and what is left."""

from __future__ import annotations

import asyncio

import pytest

from devstack.customer import SimulatedCustomer

from .conftest import Shop, panel_username, wait_until
from .test_purchase import bought

pytestmark = pytest.mark.e2e

GIB = 1024**3
WARNED = "Использовано 80% трафика"
USED_UP = "Трафик на этот период закончился"


async def _told(shop: Shop, customer: SimulatedCustomer, text: str) -> int:
    transcript = await shop.telegram.transcript(customer.user_id)
    return sum(text in (message.text or "") for message in transcript.bot_messages())


async def _screen(customer: SimulatedCustomer) -> str:
    await customer.start()
    return (await customer.press("m:subscription")).text or ""


async def test_each_threshold_is_told_once_and_the_screen_shows_the_usage(shop: Shop) -> None:
    customer, url = await bought(shop, "m1")  # 100 GB
    username = panel_username(url)
    await shop.platform.start_service("provisioning", replica="2")
    await shop.platform.wait_ready(within_s=60)
    try:
        await shop.marzban.add_traffic(username, 81 * GIB)
        warned = await customer.wait_for(WARNED, timeout_s=30)
        assert "осталось 19 ГБ" in (warned.text or "")

        await shop.marzban.add_traffic(username, 9 * GIB)  # 90 %: the same threshold
        await wait_until(lambda: _says(customer, "использовано 90 из 100 ГБ"), timeout_s=20)
        await asyncio.sleep(2)  # several looks of both replicas
        assert await _told(shop, customer, WARNED) == 1

        await shop.marzban.add_traffic(username, 10 * GIB)  # 100 %
        await customer.wait_for(USED_UP, timeout_s=30)
        await asyncio.sleep(2)
    finally:
        await shop.platform.stop_service("provisioning-2")
    assert await _told(shop, customer, WARNED) == 1
    assert await _told(shop, customer, USED_UP) == 1
    screen = await _screen(customer)
    assert "использовано 100 из 100 ГБ" in screen
    assert "осталось 0 ГБ" in screen
    assert "▰▰▰▰▰▰▰▰▰▰ 100%" in screen


async def _says(customer: SimulatedCustomer, text: str) -> bool:
    return text in await _screen(customer)
