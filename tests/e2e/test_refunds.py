"""Refunds end to end: an operator refunds a customer's purchase with billing's command.

The customer buys in the bot and gets access; the operator runs ``python -m billing refund``
with the billing service's own environment; the running billing asks the provider; the
panel user's expiry moves back (or the user is disabled), the customer is told, and the
provider's own report of the refund (YooKassa's ``refund.succeeded``, Telegram's
``refunded_payment``) is recognised as billing's refund, not applied a second time.
"""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest

from devstack.customer import SimulatedCustomer, subscription_link

from .conftest import Command, Shop, billing_command, metric, wait_until

pytestmark = pytest.mark.e2e

ACCESS_READY = "Доступ к VPN готов"
REFUND = "Возврат"
M1_DAYS, M1_PRICE = 30, 19900


async def refund_command(shop: Shop, order_id: str, *args: str) -> Command:
    return await billing_command(shop, "refund", order_id, *args)


def panel_username(link: str) -> str:
    """Marzban's subscription token is base64url("<username>,<ts>") plus a signature."""
    token = link.rsplit("/", 1)[-1]
    encoded = token[:-10]
    decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return decoded.split(",")[0]


async def messages(shop: Shop, customer: SimulatedCustomer, text: str) -> list[str]:
    transcript = await shop.telegram.transcript(customer.user_id)
    return [m.text or "" for m in transcript.bot_messages() if text in (m.text or "")]


async def notifications(shop: Shop, provider: str, outcome: str) -> float:
    return await metric(
        shop, "billing", "payment_notifications_total", provider=provider, outcome=outcome
    )


async def panel_user(shop: Shop, username: str) -> dict[str, object]:
    user = await shop.marzban.user(username)
    assert user is not None
    return dict(user)


async def test_a_yookassa_purchase_refunded_in_part_then_in_full(shop: Shop) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1")
    await customer.pay(link)
    username = panel_username(subscription_link(await customer.wait_for(ACCESS_READY)))
    paid = await panel_user(shop, username)
    order_id = (await shop.yookassa.payment(link.payment_id))["payment"]["metadata"]["order_id"]
    duplicates = await notifications(shop, "yookassa", "duplicate")
    applied = await notifications(shop, "yookassa", "refunded")

    first = await refund_command(shop, order_id, "--amount", "99.00", "--reason", "asked by mail")
    assert first.status == 0, first.stderr
    uuid.UUID(first.stdout)  # the refund's id, alone on stdout

    # 99 of 199 roubles take back that share of the 30 days, from the end.
    removed = M1_DAYS * 86400 * 9900 // M1_PRICE
    expected = int(str(paid["expire"])) - removed
    await wait_until(lambda: _expire_is(shop, username, expected), timeout_s=30)
    told = await customer.wait_for(f"{REFUND} 99\u00a0₽")
    assert "действует до" in (told.text or "")
    assert (await panel_user(shop, username))["status"] == "active"

    rest = await refund_command(shop, order_id)  # all that is left
    assert rest.status == 0, rest.stderr
    await wait_until(lambda: _status_is(shop, username, "disabled"), timeout_s=30)
    ended = await customer.wait_for(f"{REFUND} 100\u00a0₽")
    assert "Доступ к VPN закрыт" in (ended.text or "")
    payment = (await shop.yookassa.payment(link.payment_id))["payment"]
    assert payment["refunded_amount"] == {"value": "199.00", "currency": "RUB"}

    # YooKassa reports both refunds; they are billing's own, and change nothing more.
    await shop.yookassa.wait_delivered(link.payment_id, "refund.succeeded", count=2, timeout=20)
    await wait_until(
        lambda: _counted_at_least(shop, "yookassa", "duplicate", duplicates + 2), timeout_s=30
    )
    assert await notifications(shop, "yookassa", "refunded") == applied
    before = await panel_user(shop, username)
    await asyncio.sleep(2)
    assert await panel_user(shop, username) == before
    assert len(await messages(shop, customer, REFUND)) == 2
    assert len(await messages(shop, customer, ACCESS_READY)) == 1

    again = await refund_command(shop, order_id)
    assert again.status == 1
    assert "order_refunded" in again.stderr


async def test_a_stars_purchase_is_refunded_whole_and_telegrams_report_is_a_duplicate(
    shop: Shop,
) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1", "telegram_stars")
    payment = await customer.pay(link)
    assert payment is not None
    assert payment.status == "paid", payment
    username = panel_username(subscription_link(await customer.wait_for(ACCESS_READY)))
    order_id = payment.invoice_payload.removeprefix("order:")
    duplicates = await notifications(shop, "telegram_stars", "duplicate")

    partial = await refund_command(shop, order_id, "--amount", "50")
    assert partial.status == 1
    assert "partial_not_supported" in partial.stderr

    whole = await refund_command(shop, order_id)
    assert whole.status == 0, whole.stderr
    await wait_until(lambda: _status_is(shop, username, "disabled"), timeout_s=30)
    told = await customer.wait_for(f"{REFUND} 150\u00a0⭐")
    assert "Доступ к VPN закрыт" in (told.text or "")

    # Telegram says the payment was refunded (refunded_payment, forwarded by the bot):
    # that is the refund billing made, not a second one.
    await wait_until(
        lambda: _counted_at_least(shop, "telegram_stars", "duplicate", duplicates + 1),
        timeout_s=30,
    )
    await asyncio.sleep(2)
    # The notifier's message, once; the bot adds nothing to Telegram's service message.
    assert len(await messages(shop, customer, f"{REFUND} 150\u00a0⭐")) == 1
    assert await messages(shop, customer, "Возврат звёзд") == []
    assert len(await messages(shop, customer, ACCESS_READY)) == 1
    transcript = await shop.telegram.transcript(customer.user_id)
    refunded = [m for m in transcript.messages if m.refunded_payment]
    assert len(refunded) == 1


async def test_a_wata_refund_is_final_by_watas_webhook_and_a_resent_one_changes_nothing(
    shop: Shop,
) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1", "wata")
    await customer.pay(link)
    username = panel_username(subscription_link(await customer.wait_for(ACCESS_READY)))
    state = await shop.wata.link(link.payment_id)
    order_id = str(state["link"]["orderId"])
    [payment] = state["transactions"]
    applied = await notifications(shop, "wata", "refunded")
    duplicates = await notifications(shop, "wata", "duplicate")

    # WATA answers the refund request "Pending"; its webhook brings the final status.
    whole = await refund_command(shop, order_id)
    assert whole.status == 0, whole.stderr
    await wait_until(lambda: _status_is(shop, username, "disabled"), timeout_s=30)
    told = await customer.wait_for(f"{REFUND} 199\u00a0₽")
    assert "Доступ к VPN закрыт" in (told.text or "")
    assert await notifications(shop, "wata", "refunded") == applied + 1
    refunded = await shop.wata.transaction(str(payment["id"]))
    [refund] = refunded["refunds"]
    assert refund["status"] == "Paid"

    # The same webhook twice more (the cabinet's "resend"): nothing more happens.
    await shop.wata.resend_webhook(str(refund["id"]), times=2)
    await wait_until(
        lambda: _counted_at_least(shop, "wata", "duplicate", duplicates + 2), timeout_s=30
    )
    await asyncio.sleep(1)
    assert await notifications(shop, "wata", "refunded") == applied + 1
    assert len(await messages(shop, customer, REFUND)) == 1
    assert len(await messages(shop, customer, ACCESS_READY)) == 1


async def _expire_is(shop: Shop, username: str, expected: int) -> bool:
    user = await shop.marzban.user(username)
    return user is not None and abs(int(user["expire"] or 0) - expected) <= 2


async def _status_is(shop: Shop, username: str, status: str) -> bool:
    user = await shop.marzban.user(username)
    return user is not None and user["status"] == status


async def _counted_at_least(shop: Shop, provider: str, outcome: str, at_least: float) -> bool:
    return await notifications(shop, provider, outcome) >= at_least
