"""Traffic bought as its own product, end to end: a customer whose traffic ran out buys a
pack from "My subscription", YooKassa charges its price, the Marzban user gets the extra
on the same period and is active again, and the customer is told the new limit."""

from __future__ import annotations

import pytest

from .conftest import Shop, panel_username, wait_until
from .test_purchase import _subscription_says, bought

pytestmark = pytest.mark.e2e

GIB = 1024**3


async def test_a_customer_out_of_traffic_buys_more_and_connects_again(shop: Shop) -> None:
    customer, url = await bought(shop, "m1")
    username = panel_username(url)
    await shop.marzban.add_traffic(username, 100 * GIB + 1)
    await shop.marzban.run_review()
    await wait_until(lambda: _subscription_says(customer, "трафик закончился"), timeout_s=20)

    await customer.start()
    await customer.press("m:subscription", expect="трафик закончился")
    packs = await customer.press("m:traffic", expect="Дополнительный трафик")
    assert "+10 ГБ" in str(packs.reply_markup)
    await customer.press("trf:gb10", expect="Как оплатить")
    link = await customer.pay_on_screen_with("paytrf:gb10:yookassa:")
    payment = await shop.yookassa.payment(link.payment_id)
    assert payment["payment"]["amount"] == {"value": "49.00", "currency": "RUB"}
    await customer.pay(link)
    told = await customer.wait_for("Добавлено 10 ГБ трафика")
    assert "теперь 110 ГБ" in (told.text or "")

    async def active() -> bool:
        user = await shop.marzban.user(username)
        return user is not None and user["status"] == "active"

    await wait_until(active, timeout_s=30)
    user = await shop.marzban.user(username)
    assert user is not None
    assert (user["data_limit"], user["used_traffic"]) == (110 * GIB, 100 * GIB + 1)
    await wait_until(lambda: _subscription_says(customer, "✅ активна"), timeout_s=20)
