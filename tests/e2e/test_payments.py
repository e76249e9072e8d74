"""Every way to pay, end to end: WATA, Crypto Pay and Telegram Stars beside YooKassa.

For each provider the customer buys in the bot, pays in the provider's sandbox, and gets
working VPN access once; the provider repeating its notification changes nothing; forged
notifications are refused and recorded; a declined payment provisions nothing; a provider
that is down at checkout leaves the customer a way to pay by another method.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from devstack.customer import SimulatedCustomer, buttons

from .conftest import Shop, metric, wait_until

pytestmark = pytest.mark.e2e

ACCESS_READY = "Доступ к VPN готов"


async def access_messages(shop: Shop, customer: SimulatedCustomer) -> list[str]:
    transcript = await shop.telegram.transcript(customer.user_id)
    return [m.text or "" for m in transcript.bot_messages() if ACCESS_READY in (m.text or "")]


async def _logged(shop: Shop, text: str) -> bool:
    return any(text in line for _, line in shop.logs.lines)


@pytest.mark.parametrize(
    ("provider", "price"),
    [("wata", "199\u00a0₽"), ("cryptopay", "199\u00a0₽"), ("telegram_stars", "150\u00a0⭐")],
)
async def test_each_provider_sells_a_plan_once(shop: Shop, provider: str, price: str) -> None:
    customer = await shop.customer()
    await customer.start()
    await customer.open_catalog()
    plan = await customer.press("plan:m1")
    assert price in " ".join(b["text"] for b in buttons(plan))

    await customer.open_catalog()  # « Back
    link = await customer.checkout("m1", provider)
    assert customer.screen is not None
    checkout_message = customer.screen.message_id  # the Stars invoice is a message after it
    outcome = await customer.pay(link)
    if provider == "telegram_stars":
        assert outcome is not None
        assert outcome.status == "paid", outcome
    await customer.wait_for(ACCESS_READY)
    # The message the customer paid from no longer offers to pay, and says it is paid.
    await wait_until(lambda: _paid_screen(shop, customer, checkout_message))

    # The provider says it again, three times: nothing more happens.
    if provider == "wata":
        sent = [d for d in await shop.wata.deliveries(kind="Payment") if link.payment_id in d.body]
        assert sent[-1].transaction_id is not None
        await shop.wata.resend_webhook(sent[-1].transaction_id, times=3)
    elif provider == "cryptopay":
        await shop.cryptopay.resend_webhook(int(link.payment_id), times=3)
    await wait_until(
        lambda: _duplicates(shop, provider, at_least=3 if provider != "telegram_stars" else 0)
    )
    await asyncio.sleep(0.5)
    assert len(await access_messages(shop, customer)) == 1


async def _paid_screen(
    shop: Shop, customer: SimulatedCustomer, message_id: int, says: str = "Оплачено"
) -> bool:
    transcript = await shop.telegram.transcript(customer.user_id)
    message = next((m for m in transcript.bot_messages() if m.message_id == message_id), None)
    return (
        message is not None
        and says in (message.text or "")
        and not (message.reply_markup or {}).get("inline_keyboard")
    )


async def _duplicates(shop: Shop, provider: str, *, at_least: int) -> bool:
    counted = await metric(
        shop, "billing", "payment_notifications_total", provider=provider, outcome="duplicate"
    )
    return counted >= at_least


async def test_forged_wata_and_cryptopay_webhooks_are_refused_and_recorded(shop: Shop) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1", "wata")
    body = (
        '{"transactionType":"CardCrypto","kind":"Payment","transactionId":'
        '"3a16a4f0-27b0-09d1-16da-ba8d5c63eae3","transactionStatus":"Paid","amount":199.00,'
        f'"currency":"RUB","orderId":"x","paymentLinkId":"{link.payment_id}"}}'
    )
    for signature in ("missing", "garbage", "other-body", "foreign-key"):
        await shop.wata.send_forged_webhook(body, signature=signature)
    await customer.start()
    crypto = await customer.buy("m1", "cryptopay")
    state = await shop.cryptopay.invoice(int(crypto.payment_id))
    forged = {
        "update_id": 1,
        "update_type": "invoice_paid",
        "request_date": "2026-12-01T10:00:00.000Z",
        "payload": {**state["invoice"], "status": "paid"},
    }
    for signature in ("none", "garbage", "other_bytes", "wrong_token"):
        await shop.cryptopay.send_forged_webhook(100500, forged, signature=signature)

    await wait_until(lambda: _rejected(shop, "wata", at_least=4), timeout_s=30)
    await wait_until(lambda: _rejected(shop, "cryptopay", at_least=4), timeout_s=30)
    assert await access_messages(shop, customer) == []


async def _rejected(shop: Shop, provider: str, *, at_least: int) -> bool:
    counted = await metric(
        shop,
        "billing",
        "payment_notifications_total",
        provider=provider,
        outcome="rejected_signature",
    )
    return counted >= at_least


async def test_a_declined_card_provisions_nothing_and_the_link_still_works(shop: Shop) -> None:
    customer = await shop.customer()
    link = await customer.buy("m1", "wata")
    await shop.wata.decline(link.payment_id)
    await wait_until(lambda: _logged(shop, "declined_attempt"))
    assert await access_messages(shop, customer) == []
    await customer.pay(link)  # WATA keeps the link open: the customer tries another card
    await customer.wait_for(ACCESS_READY)


@pytest.mark.parametrize("provider", ["wata", "yookassa", "cryptopay", "telegram_stars"])
async def test_a_provider_down_at_checkout_offers_another_method(shop: Shop, provider: str) -> None:
    down = _outage(shop, provider)
    await down.start()
    try:
        customer = await shop.customer()
        await customer.start()
        await customer.open_catalog()
        await customer.press("plan:m1")
        screen = customer._current()
        data = next(
            b["callback_data"]
            for b in buttons(screen)
            if b.get("callback_data", "").startswith(f"pq:m1:{provider}:")
        )
        await shop.telegram.press_button(customer.user_id, screen.message_id, callback_data=data)
        failed = await shop.telegram.wait_for_bot_message(
            customer.user_id,
            lambda m: m.message_id == screen.message_id and "другой способ" in (m.text or ""),
            timeout=60,
        )
        offered = [b.get("callback_data", "") for b in buttons(failed)]
        others = {"wata", "yookassa", "cryptopay", "telegram_stars", "wallet"} - {provider}
        assert {d.split(":")[2] for d in offered if d.startswith("pq:m1:")} == others
    finally:
        await down.end()


class _Outage:
    def __init__(
        self, start: Callable[[], Awaitable[object]], end: Callable[[], Awaitable[object]]
    ) -> None:
        self.start, self.end = start, end


def _outage(shop: Shop, provider: str) -> _Outage:
    """The provider's API down for billing (for Stars: only the invoice call of the Bot API,
    so that the bot itself still talks to the customer)."""
    if provider == "wata":
        return _Outage(lambda: shop.wata.outage("error", status=503), shop.wata.restore)
    if provider == "yookassa":
        return _Outage(lambda: shop.yookassa.outage("error", status=502), shop.yookassa.restore)
    if provider == "cryptopay":
        return _Outage(lambda: shop.cryptopay.outage("error", status=502), shop.cryptopay.restore)
    return _Outage(
        lambda: shop.telegram.outage("error", status=502, methods=["createInvoiceLink"]),
        shop.telegram.restore,
    )


async def test_a_wallet_is_topped_up_and_pays_for_a_plan_and_never_overdraws(shop: Shop) -> None:
    customer = await shop.customer()
    await customer.start()
    empty = await customer.press("m:wallet")
    assert "Баланс: 0\u00a0₽" in (empty.text or "")

    topup = await customer.top_up("t300", "yookassa")
    assert customer.screen is not None
    topup_message = customer.screen.message_id
    await customer.pay(topup)
    await wait_until(lambda: _wallet_shows(shop, customer, "300\u00a0₽"))
    # The top-up's message loses its pay button and says the balance was topped up.
    await wait_until(lambda: _paid_screen(shop, customer, topup_message, "Баланс пополнен"))

    # Two wallet purchases of a 199 ₽ plan at once: one is paid, the other finds too little.
    await customer.start()
    await customer.open_catalog()
    plan_a = await customer.press("plan:m1")
    await customer.start()
    await customer.open_catalog()
    plan_b = await customer.press("plan:m1")
    wallet_a = next(
        b["callback_data"]
        for b in buttons(plan_a)
        if b.get("callback_data", "").startswith("pq:m1:wallet:")
    )
    await asyncio.gather(
        shop.telegram.press_button(customer.user_id, plan_a.message_id, callback_data=wallet_a),
        shop.telegram.press_button(customer.user_id, plan_b.message_id, callback_data=wallet_a),
    )
    paid = await shop.telegram.wait_for_bot_message(
        customer.user_id, contains="Оплачено с баланса", timeout=30
    )
    assert "101\u00a0₽" in (paid.text or "")  # what is left
    short = await shop.telegram.wait_for_bot_message(
        customer.user_id, contains="не хватает", timeout=30
    )
    assert {paid.message_id, short.message_id} == {plan_a.message_id, plan_b.message_id}
    await customer.wait_for(ACCESS_READY)
    await wait_until(lambda: _wallet_shows(shop, customer, "101\u00a0₽"))


async def _wallet_shows(shop: Shop, customer: SimulatedCustomer, balance: str) -> bool:
    await customer.start()
    screen = await customer.press("m:wallet")
    return f"Баланс: {balance}" in (screen.text or "")
