"""Plan changes end to end: the operator adds a higher-tier plan with billing's CLI; a
customer on the basic plan upgrades, is charged the plan's price, and is moved at once to
its traffic with the unused part of the basic plan added as days; buying the basic plan
again is a downgrade, paid now and scheduled after the time paid at the higher one."""

from __future__ import annotations

import pytest

from devstack.customer import SimulatedCustomer

from .conftest import Command, Shop, billing_command, panel_username, wait_until
from .test_purchase import access_messages, bought

pytestmark = pytest.mark.e2e

GIB = 1024**3
DAY = 24 * 3600
PRO = [
    "m1-pro",
    "--title",
    "ru=1 месяц Pro",
    "--title",
    "en=1 month Pro",
    "--days",
    "30",
    "--price",
    "399.00:RUB",
    "--traffic-gb",
    "300",
    "--tier",
    "1",
]


async def plan_command(shop: Shop, *args: str) -> Command:
    return await billing_command(shop, "plan", *args)


async def test_an_upgrade_starts_at_once_and_a_downgrade_after_it(shop: Shop) -> None:
    bad = await plan_command(shop, "set", "m1-pro", "--title", "ru=x", "--days", "30")
    assert bad.status == 2  # no price
    made = await plan_command(shop, "set", *PRO)
    assert (made.status, made.stdout) == (0, "m1-pro"), made.stderr
    try:
        listed = await plan_command(shop, "list")
        assert "m1-pro\ttier 1\t30 days\t399.00 RUB\t300 GB\ton sale" in listed.stdout

        customer, url = await bought(shop, "m1")
        username = panel_username(url)
        basic = await shop.marzban.user(username)
        assert basic is not None
        await customer.start()
        await customer.open_catalog()
        details = await customer.press("plan:m1-pro", expect="Переход с тарифа 1 месяц")
        assert "399" in (details.text or "")
        link = await customer.pay_on_screen("m1-pro", "yookassa")
        payment = await shop.yookassa.payment(link.payment_id)
        assert payment["payment"]["amount"] == {"value": "399.00", "currency": "RUB"}
        await customer.pay(link)
        told = await customer.wait_for("Ваш тариф теперь — 1 месяц Pro")
        assert "трафик 300 ГБ" in (told.text or "")
        assert "добавила к нему" in (told.text or "")
        await wait_until(lambda: _access_count(shop, customer, 2), timeout_s=30)
        pro = await shop.marzban.user(username)
        assert pro is not None
        assert (pro["status"], pro["used_traffic"], pro["data_limit"]) == ("active", 0, 300 * GIB)
        # 30 days of Pro from now (the basic month was bought just before: about its end),
        # and about 15 more for the basic month left unused (199 of Pro's 399 a month).
        assert basic["expire"] + 14 * DAY < pro["expire"] <= basic["expire"] + 15 * DAY + 60

        await customer.start()
        await customer.open_catalog()
        await customer.press("plan:m1", expect="этот тариф начнётся после него")
        link = await customer.pay_on_screen("m1", "yookassa")
        await customer.pay(link)
        # The notifier's message (the checkout's own "✅ Оплачено: 1 месяц" is another).
        scheduled = await customer.wait_for("Текущий тариф действует до")
        assert "🗓 Оплачено: 1 месяц" in (scheduled.text or "")
        await wait_until(lambda: _expire_moved(shop, username, pro["expire"]), timeout_s=30)
        later = await shop.marzban.user(username)
        assert later is not None
        # Pro and its traffic go on; the basic month is added after it.
        assert later["data_limit"] == 300 * GIB
        assert later["expire"] == pro["expire"] + 30 * DAY
    finally:
        hidden = await plan_command(shop, "set", *PRO, "--inactive")
        assert hidden.status == 0, hidden.stderr


async def _access_count(shop: Shop, customer: SimulatedCustomer, count: int) -> bool:
    return len(await access_messages(shop, customer)) >= count


async def _expire_moved(shop: Shop, username: str, before: int) -> bool:
    user = await shop.marzban.user(username)
    return user is not None and user["expire"] > before
