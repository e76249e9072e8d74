"""Buying a VPN subscription in Telegram, end to end, as a customer would.

Every service runs as its own process on real PostgreSQL and Kafka; Telegram, YooKassa
and the Marzban panel are the sandboxes. The tests only talk to the sandboxes' control
APIs: messages and button presses in Telegram, payments in YooKassa, and (to check the
result) the panel's users.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from babel.dates import format_date

from devstack.customer import SimulatedCustomer, buttons, callback_starting, subscription_link
from devstack.sandboxes import SHOP_ID, WEBHOOK_SECRET

from .conftest import GRACE, Shop, counted, panel_username, wait_until

pytestmark = pytest.mark.e2e

GIB = 1024**3


async def test_a_customer_buys_pays_and_receives_working_access(shop: Shop) -> None:
    customer = await shop.customer(language_code="ru")
    welcome = await customer.start("ref_42")
    assert "Привет" in (welcome.text or "")

    link = await customer.buy("m1")
    assert "199\u00a0₽" in (link.message.text or "")
    await customer.pay(link)

    access = await customer.wait_for("Доступ к VPN готов")
    url = subscription_link(access)
    paid_at = datetime.now(UTC)

    user = await shop.marzban.user(panel_username(url))
    assert user is not None
    assert user["status"] == "active"
    assert user["data_limit"] == 100 * GIB
    # Served through the grace after the paid end; the customer is told the paid end.
    paid_until = datetime.fromtimestamp(user["expire"], UTC) - GRACE
    assert abs(paid_until - (paid_at + timedelta(days=30))) < timedelta(minutes=2)
    assert format_date(paid_until, "d MMMM y", locale="ru") in (access.text or "")

    await customer.start()
    mine = await customer.press("m:subscription", expect="Ваша подписка")
    assert url in (mine.text or "")
    assert format_date(paid_until, "d MMMM y", locale="ru") in (mine.text or "")
    assert "100 ГБ" in (mine.text or "")


ACCESS_READY = "Доступ к VPN готов"


async def access_messages(shop: Shop, customer: SimulatedCustomer) -> list[str]:
    transcript = await shop.telegram.transcript(customer.user_id)
    return [m.text or "" for m in transcript.bot_messages() if ACCESS_READY in (m.text or "")]


async def bought(shop: Shop, plan_id: str = "m1") -> tuple[SimulatedCustomer, str]:
    """A customer who bought ``plan_id`` and received access; returns them and their link."""
    customer = await shop.customer()
    link = await customer.buy(plan_id)
    await customer.pay(link)
    return customer, subscription_link(await customer.wait_for(ACCESS_READY))


async def test_the_same_notification_three_more_times_changes_nothing(shop: Shop) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1")
    await customer.pay(link)
    url = subscription_link(await customer.wait_for(ACCESS_READY))
    before = await shop.marzban.user(panel_username(url))

    await shop.yookassa.renotify(link.payment_id, times=3)
    await shop.yookassa.wait_delivered(link.payment_id, "payment.succeeded", count=4, timeout=10)
    await asyncio.sleep(3)  # what a duplicate would have caused has had time to happen

    assert len(await access_messages(shop, customer)) == 1
    after = await shop.marzban.user(panel_username(url))
    assert before is not None
    assert after is not None
    assert after["expire"] == before["expire"]
    assert after["data_limit"] == before["data_limit"]


async def test_a_second_purchase_extends_from_the_current_end_on_the_same_panel_user(
    shop: Shop,
) -> None:
    customer, url = await bought(shop, "m1")
    username = panel_username(url)
    first = await shop.marzban.user(username)
    assert first is not None

    await customer.start()
    link = await customer.buy("m3")
    await customer.pay(link)
    await customer.wait_for(f"{ACCESS_READY}", timeout_s=20)
    await wait_until(lambda: _expire_changed(shop, username, first["expire"]))

    second = await shop.marzban.user(username)
    assert second is not None
    assert second["expire"] == first["expire"] + 90 * 24 * 3600
    # The new plan's 300 GiB, and the first period's 100 GiB, unused, carried over.
    assert second["data_limit"] == 400 * GIB
    assert len(await access_messages(shop, customer)) == 2
    users = [u for u in await shop.marzban.users() if u["username"] == username]
    assert len(users) == 1


async def _expire_changed(shop: Shop, username: str, old: int | None) -> bool:
    user = await shop.marzban.user(username)
    return user is not None and user["expire"] != old


async def test_a_customer_who_used_all_the_traffic_renews_and_is_active_again(
    shop: Shop,
) -> None:
    """On Marzban a renewal that only moves the expiry leaves a limited user limited: the
    customer paid and stayed cut off. The renewal starts the new period's allowance."""
    customer, url = await bought(shop, "m1")
    username = panel_username(url)
    await shop.marzban.add_traffic(username, 100 * GIB + 1)
    await shop.marzban.run_review()
    limited = await shop.marzban.user(username)
    assert limited is not None
    assert limited["status"] == "limited"
    # Paid until next month, but cut off by the panel: "My subscription" says which.
    await wait_until(lambda: _subscription_says(customer, "трафик закончился"), timeout_s=20)

    await customer.start()
    link = await customer.buy("m1")
    await customer.pay(link)
    await wait_until(lambda: _count_access(shop, customer, 2), timeout_s=30)

    user = await shop.marzban.user(username)
    assert user is not None
    assert user["status"] == "active"
    assert (user["used_traffic"], user["data_limit"]) == (0, 100 * GIB)
    assert user["expire"] == limited["expire"] + 30 * 24 * 3600
    assert user["proxies"] == limited["proxies"]
    await wait_until(lambda: _subscription_says(customer, "✅ активна"), timeout_s=20)


async def _subscription_says(customer: SimulatedCustomer, text: str) -> bool:
    await customer.start()
    return text in ((await customer.press("m:subscription")).text or "")


async def _count_access(shop: Shop, customer: SimulatedCustomer, count: int) -> bool:
    return len(await access_messages(shop, customer)) >= count


async def test_a_canceled_payment_provisions_nothing_and_tells_the_customer(shop: Shop) -> None:
    users_before = len(await shop.marzban.users())
    customer = await shop.customer()
    link = await customer.buy("m1")

    await shop.yookassa.cancel(link.payment_id, reason="insufficient_funds")

    told = await customer.wait_for("не прошёл")
    assert "недостаточно средств" in (told.text or "")
    await asyncio.sleep(2)
    assert len(await shop.marzban.users()) == users_before
    assert await access_messages(shop, customer) == []


async def test_access_arrives_once_after_the_panel_comes_back(shop: Shop) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1")
    await shop.marzban.outage("error", status=502)
    try:
        await customer.pay(link)
        delayed = await customer.wait_for("не отвечает")
        assert "Оплата получена" in (delayed.text or "")
        assert await access_messages(shop, customer) == []
    finally:
        await shop.marzban.restore()

    await customer.wait_for(ACCESS_READY, timeout_s=30)
    await asyncio.sleep(2)
    assert len(await access_messages(shop, customer)) == 1


async def test_forged_notifications_are_rejected_logged_and_change_nothing(shop: Shop) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1")
    claims_success = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {
            "id": link.payment_id,
            "status": "succeeded",
            "paid": True,
            "amount": {"value": "199.00", "currency": "RUB"},
        },
    }
    unknown_payment = {
        **claims_success,
        "object": {**claims_success["object"], "id": "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f"},
    }
    # From YooKassa's address, but the payment is still pending at YooKassa.
    await shop.yookassa.send_raw_notification(SHOP_ID, claims_success)
    # A payment YooKassa never heard of.
    await shop.yookassa.send_raw_notification(SHOP_ID, unknown_payment)
    # From an address that is not YooKassa's.
    await shop.yookassa.send_raw_notification(SHOP_ID, claims_success, forwarded_for="203.0.113.7")
    async with httpx.AsyncClient() as client:
        garbage = await client.post(
            f"{shop.platform.urls['gateway']}/webhooks/yookassa",
            content=b"{not json",
            # As if from YooKassa's network through the trusted proxy, so that only the body
            # is wrong.
            headers={"Content-Type": "application/json", "X-Forwarded-For": "185.71.76.9"},
        )
    assert garbage.status_code == 400

    await wait_until(lambda: _logged(shop, "rejected_unknown_payment"))
    await wait_until(lambda: _logged(shop, "not_final"))
    assert await _logged(shop, "refused a webhook: not from yookassa's networks")
    assert await _logged(shop, "refused a webhook: not JSON")
    assert await access_messages(shop, customer) == []

    # An operator can alert on them: counted by verdict at billing, by status at the edge.
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{shop.platform.urls['billing']}/metrics")).text
        edge = (await client.get(f"{shop.platform.urls['gateway']}/metrics")).text
    for outcome in ("rejected_unknown_payment", "not_final"):
        assert counted(metrics, "payment_notifications_total", outcome=outcome) >= 1
    assert counted(edge, "webhook_refusals_total", route="yookassa", status="403") >= 1
    assert counted(edge, "webhook_refusals_total", route="yookassa", status="400") >= 1

    # The platform keeps working: the real payment still goes through.
    await customer.pay(link)
    await customer.wait_for(ACCESS_READY)


async def _logged(shop: Shop, text: str) -> bool:
    return any(text in line for _, line in shop.logs.lines)


@pytest.mark.parametrize("victim", ["billing", "provisioning"])
async def test_a_service_killed_mid_purchase_completes_it_exactly_once(
    shop: Shop, victim: str
) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1")
    users_before = len(await shop.marzban.users())
    # The panel holds requests, so provisioning is caught in the middle of its call.
    await shop.marzban.outage("timeout")
    await customer.pay(link)
    await shop.yookassa.wait_delivered(link.payment_id, "payment.succeeded")
    await asyncio.sleep(1)

    assert await shop.platform.stop_service(victim, sig=signal.SIGKILL) == -signal.SIGKILL
    await shop.marzban.restore()
    await shop.platform.start_service(victim)
    await shop.platform.wait_ready(within_s=60)

    await customer.wait_for(ACCESS_READY, timeout_s=40)
    await asyncio.sleep(2)
    assert len(await access_messages(shop, customer)) == 1
    assert len(await shop.marzban.users()) == users_before + 1


async def test_every_button_press_is_answered_and_the_language_can_be_switched(shop: Shop) -> None:
    customer = await shop.customer(language_code="ru")
    await customer.start()
    switched = await customer.press("m:language")
    assert "English" in " ".join(b["text"] for b in buttons(switched))
    await customer.press("lang:en", expect="English it is")

    link = await customer.buy("m1")
    assert "To pay" in (link.message.text or "")
    await customer.pay(link)
    await customer.wait_for("Your VPN access is ready")

    transcript = await shop.telegram.transcript(customer.user_id)
    assert transcript.callback_queries
    unanswered = [q.data for q in transcript.callback_queries if q.answer is None]
    assert unanswered == []


async def test_an_update_telegram_delivers_twice_is_answered_once(shop: Shop) -> None:
    customer = await shop.customer(language_code="en")
    sent = await shop.telegram.send_text(customer.user_id, "/help")
    await shop.telegram.wait_for_bot_message(customer.user_id, contains="What I can do")
    assert sent.update is not None

    # Telegram delivers the same update again, as it does when a webhook answer is slow.
    async with httpx.AsyncClient() as client:
        again = await client.post(
            f"{shop.platform.urls['gateway']}/webhooks/telegram",
            json=sent.update,
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        )
    assert again.status_code == 200
    await asyncio.sleep(3)  # what a second answer would need has had time to happen

    transcript = await shop.telegram.transcript(customer.user_id)
    helps = [m for m in transcript.bot_messages() if "What I can do" in (m.text or "")]
    assert len(helps) == 1


async def test_the_payment_link_arrives_once_through_telegram_flood_control(shop: Shop) -> None:
    customer = await shop.customer(language_code="en")
    await customer.start()
    await customer.open_catalog()
    plan = await customer.press("plan:m1")
    pay = callback_starting(plan, "pq:")

    await shop.telegram.outage("flood", retry_after=2, methods=["editMessageText"])
    try:
        await shop.telegram.press_button(customer.user_id, plan.message_id, callback_data=pay)
        await asyncio.sleep(3)  # the press and billing's answer meet flood control
    finally:
        await shop.telegram.restore()

    shown = await shop.telegram.wait_for_bot_message(
        customer.user_id,
        lambda m: m.message_id == plan.message_id and any("url" in b for b in buttons(m)),
        timeout=30,
    )
    url = next(b["url"] for b in buttons(shown) if "url" in b)
    await asyncio.sleep(2)
    transcript = await shop.telegram.transcript(customer.user_id)
    with_link = [m for m in transcript.bot_messages() if url in str(m.reply_markup or {})]
    assert [m.message_id for m in with_link] == [plan.message_id]  # one message, edited
    assert [q.data for q in transcript.callback_queries if q.answer is None] == []

    payment_id = url.split("orderId=")[-1]
    await shop.yookassa.succeed(payment_id)
    await customer.wait_for("Your VPN access is ready")
