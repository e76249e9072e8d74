"""The life of a subscription end to end, on one clock the test moves for every service,
YooKassa and the panel: the reminders come before the end, once each, with a "Renew"
button that opens the checkout in one tap; a renewed subscription is not told that its
old end passed; unpaid, it is served through the grace, then suspended on the panel, and
a payment brings back the same panel user with the same link. A free trial runs to its
end, where its reminder offers the plans, and paying for one converts it. Billing
restarted between due times, or run twice, fires each of them once."""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from chassis.clock import OffsetClock
from devstack.customer import SimulatedCustomer, buttons, subscription_link
from devstack.postgres import plain_dsn

from .conftest import Shop, panel_username, wait_until

pytestmark = pytest.mark.e2e

CLOCK = CLOCK_FILE = Path(tempfile.mkdtemp(prefix="vpn-e2e-clock-")) / "clock"
SHOP_ENV = {"BILLING_TIMERS_POLL_S": "0.3", "BILLING_GRACE_HOURS": "24"}
ACCESS_READY = "Доступ к VPN готов"
ENDS_SOON = "закончится через"
ENDED = "Подписка на VPN закончилась"
SUSPENDED = "Доступ к VPN приостановлен"


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


async def test_unpaid_it_is_cut_off_after_the_grace_and_a_payment_brings_the_same_link(
    shop: Shop,
) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1")
    await customer.pay(link)
    url = subscription_link(await customer.wait_for(ACCESS_READY))
    username = panel_username(url)

    OffsetClock.move(CLOCK, timedelta(days=27, seconds=5))
    await customer.wait_for("72 часа", timeout_s=20)
    OffsetClock.move(CLOCK, timedelta(days=2))
    await customer.wait_for("24 часа", timeout_s=20)
    OffsetClock.move(CLOCK, timedelta(days=1))  # past the end: in the grace
    ended = await customer.wait_for(ENDED, timeout_s=20)
    assert "Доступ сохранится до" in (ended.text or "")
    assert await _panel_status(shop, username) == "active"  # still served
    assert "доступ сохранится до" in await _my_subscription(customer)

    OffsetClock.move(CLOCK, timedelta(days=1))  # past the grace
    suspended = await customer.wait_for(SUSPENDED, timeout_s=20)
    await wait_until(lambda: _panel_status_is(shop, username, "disabled"), timeout_s=20)
    assert "приостановлена" in await _my_subscription(customer)

    # "Renew" on the suspension's message: paid, the same user is active again.
    customer.screen = suspended
    await customer.press("plan:m1", expect="Как оплатить?")
    renewal = await customer.pay_on_screen("m1", "yookassa")
    await customer.pay(renewal)
    await wait_until(lambda: _count(shop, customer.user_id, ACCESS_READY, 2), timeout_s=30)
    user = await shop.marzban.user(username)
    assert user is not None
    assert user["status"] == "active"
    assert user["data_limit"] == 100 * 1024**3  # a lapse carries nothing over
    async with httpx.AsyncClient() as client:  # the link the customer has works again
        info = await client.get(f"{url}/info")
    assert info.status_code == 200
    assert info.json()["status"] == "active"
    assert "✅ активна" in await _my_subscription(customer)


async def test_billing_restarted_between_due_times_fires_each_once(shop: Shop) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1")
    await customer.pay(link)
    await customer.wait_for(ACCESS_READY)
    # Down across the 72-hour mark, back: the missed reminder comes, once.
    await _restart_billing_across(shop, timedelta(days=27, seconds=5))
    await customer.wait_for("72 часа", timeout_s=30)
    # Killed across the 24-hour mark and the end.
    await _restart_billing_across(shop, timedelta(days=3), sig=signal.SIGKILL)
    await customer.wait_for(ENDED, timeout_s=30)
    await asyncio.sleep(2.0)
    assert await _requested(shop, customer) == {
        ("subscription.expiring", 72): 1,
        ("subscription.expired", None): 1,
        # Fired late, past the end: left to the "ended" message.
    }


async def test_two_billing_replicas_fire_each_due_time_once(shop: Shop) -> None:
    customers = [await shop.customer() for _ in range(3)]
    for customer in customers:
        link = await customer.buy("m1")
        await customer.pay(link)
        await customer.wait_for(ACCESS_READY)
    await shop.platform.start_service("billing", replica="2")
    await shop.platform.wait_ready(within_s=60)
    try:
        OffsetClock.move(CLOCK, timedelta(days=27, seconds=5))
        for customer in customers:
            await customer.wait_for("72 часа", timeout_s=30)
        OffsetClock.move(CLOCK, timedelta(days=2))
        for customer in customers:
            await customer.wait_for("24 часа", timeout_s=30)
        await asyncio.sleep(2.0)
    finally:
        await shop.platform.stop_service("billing-2")
    for customer in customers:
        assert await _requested(shop, customer) == {
            ("subscription.expiring", 72): 1,
            ("subscription.expiring", 24): 1,
        }
        assert len(await texts(shop, customer.user_id, ENDS_SOON)) == 2


async def test_a_trial_runs_to_its_end_and_its_offer_converts(shop: Shop) -> None:
    customer = await shop.customer()
    await customer.start()
    await customer.press("m:trial", expect="Запускаю пробный период")
    url = subscription_link(await customer.wait_for(ACCESS_READY))
    user = await shop.marzban.user(panel_username(url))
    assert user is not None
    assert user["data_limit"] == 5 * 1024**3  # BILLING_TRIAL_TRAFFIC_GB's default
    menu = await customer.start()
    assert "m:trial" not in [b.get("callback_data") for b in buttons(menu)]  # a subscriber

    # Two days on: 24 hours left, an offer of the plans (no "72 hours" at its start).
    OffsetClock.move(CLOCK, timedelta(days=2, seconds=5))
    offer = await customer.wait_for("Пробный период закончится через 24", timeout_s=20)
    assert [b.get("callback_data") for b in buttons(offer)] == ["m:buy"]
    customer.screen = offer
    await customer.open_catalog()
    link = await customer.checkout("m1")
    await customer.pay(link)
    await wait_until(lambda: _count(shop, customer.user_id, ACCESS_READY, 2), timeout_s=30)
    (trial,) = await _rows(
        shop,
        "billing",
        "SELECT t.converted_at FROM trials t JOIN customers c USING (customer_id)"
        " WHERE c.telegram_user_id = $1",
        customer.user_id,
    )
    assert trial["converted_at"] is not None
    # Paid within the trial: the plan continues from its end, on the same panel user.
    renewed = await shop.marzban.user(panel_username(url))
    assert renewed is not None
    assert renewed["status"] == "active"
    assert renewed["expire"] > user["expire"] + 29 * 86400


async def _restart_billing_across(
    shop: Shop, moved: timedelta, *, sig: signal.Signals = signal.SIGTERM
) -> None:
    await shop.platform.stop_service("billing", sig=sig)
    OffsetClock.move(CLOCK, moved)
    await asyncio.sleep(1.0)
    await shop.platform.start_service("billing")
    await shop.platform.wait_ready(within_s=60)


async def _requested(shop: Shop, customer: SimulatedCustomer) -> dict[tuple[str, object], int]:
    """How many times billing asked for each reminder of the customer's subscription (its
    outbox keeps what it sent for a day)."""
    (customer_id,) = await _rows(
        shop,
        "bot",
        "SELECT customer_id FROM customers WHERE telegram_user_id = $1",
        customer.user_id,
    )
    rows = await _rows(
        shop,
        "billing",
        "SELECT payload FROM outbox WHERE key = $1 AND event_type = $2",
        str(customer_id["customer_id"]),
        "notifier.notification.requested.v1",
    )
    counts: dict[tuple[str, object], int] = {}
    for row in rows:
        payload = json.loads(bytes(row["payload"]))
        if payload["template"].startswith("subscription."):
            reminder = (payload["template"], payload["params"].get("hours"))
            counts[reminder] = counts.get(reminder, 0) + 1
    return counts


async def _rows(shop: Shop, service: str, query: str, *args: object) -> list[asyncpg.Record]:
    """``query`` on the service's own database (read only, to check what it recorded)."""
    connection = await asyncpg.connect(plain_dsn(shop.platform.database_url(service)))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def _panel_status(shop: Shop, username: str) -> str | None:
    user = await shop.marzban.user(username)
    return None if user is None else str(user["status"])


async def _panel_status_is(shop: Shop, username: str, status: str) -> bool:
    return await _panel_status(shop, username) == status


async def _my_subscription(customer: SimulatedCustomer) -> str:
    await customer.start()
    return (await customer.press("m:subscription")).text or ""
