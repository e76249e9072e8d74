"""Promo codes in the bot: typed (nonsense answered here, a code sent to billing), held
when billing accepts it, shown in the plan's prices, named in the checkout, dropped when
an order takes its use or billing refuses it at checkout."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.checkouts import CheckoutAnswers
from bot.models import Customer, CustomerPromo
from bot.promos import record_check
from chassis.worker import Wakeup
from contracts.billing import CheckoutFailed, CheckoutReady, PromoCodeChecked, PromoOffer
from contracts.money import Money
from sandbox.telegram import SandboxUser

from .conftest import BotWorld, tables
from .test_settings import press

pytestmark = pytest.mark.integration


async def commands(world: BotWorld, event_type: str, customer_id: uuid.UUID) -> list[Any]:
    async with world.sessions() as session:
        payloads = await session.scalars(
            select(tables.outbox.c.payload).where(tables.outbox.c.event_type == event_type)
        )
        events = [json.loads(bytes(payload)) for payload in payloads]
    return [e for e in events if e["customer_id"] == str(customer_id)]


async def say(world: BotWorld, user: SandboxUser, text: str) -> str:
    await world.telegram.send_text(user.id, text)
    await world.deliver(await world.next_update())
    transcript = await world.telegram.transcript(user.id)
    return transcript.bot_messages()[-1].text or ""


async def started(world: BotWorld, language: str) -> tuple[SandboxUser, uuid.UUID]:
    user = await world.telegram.create_user("Promo", language_code=language)
    await say(world, user, "/start")
    async with world.sessions() as session:
        customer_id = await session.scalar(
            select(Customer.customer_id).where(Customer.telegram_user_id == user.id)
        )
    assert customer_id is not None
    return user, customer_id


async def accepted(world: BotWorld, customer_id: uuid.UUID, offer: PromoOffer) -> None:
    event = PromoCodeChecked(
        request_id=uuid.uuid4(),
        customer_id=customer_id,
        code=offer.code,
        outcome="accepted",
        offer=offer,
        checked_at=datetime.now(UTC),
    )
    await world.handle(lambda ctx: record_check(event, ctx), event)


async def test_a_typed_code_goes_to_billing_and_nonsense_is_answered_here(
    world: BotWorld,
) -> None:
    user, customer_id = await started(world, "ru")
    asked = await press(world, user, "m:promo")
    assert "Отправьте код сообщением" in (asked.text or "")

    assert "не похоже на промокод" in await say(world, user, "скидка пожалуйста!!")
    assert await commands(world, "bot.promo.entered.v1", customer_id) == []
    assert "Проверяю промокод SPRING20" in await say(world, user, "  spring20 ")
    [entered] = await commands(world, "bot.promo.entered.v1", customer_id)
    assert entered["code"] == "SPRING20"
    # Answered: the next text is not taken for a code.
    assert "SPRING21" not in await say(world, user, "spring21")


async def test_an_accepted_code_shows_in_the_prices_and_goes_with_the_checkout(
    world: BotWorld,
) -> None:
    user, customer_id = await started(world, "en")
    await accepted(world, customer_id, PromoOffer(code="SPRING20", kind="percent", percent_off=20))
    await press(world, user, "m:buy")
    details = await press(world, user, "plan:m1")
    assert "Price: 199\u00a0₽ 159.20\u00a0₽ with code SPRING20" in (details.text or "")
    assert any(e["type"] == "strikethrough" for e in details.entities)
    buttons = [b["text"] for row in (details.reply_markup or {})["inline_keyboard"] for b in row]
    assert any("159.20" in text for text in buttons)  # paid once: with the discount
    assert any("120" in text for text in buttons)  # 150 stars, 20 % off
    assert any("199" in text and "🔁" in text for text in buttons)  # renewals: full price

    await press(world, user, "pq:m1:yookassa:RUB:19900")
    [request] = await commands(world, "bot.checkout.requested.v1", customer_id)
    assert request["promo_code"] == "SPRING20"

    # Billing's answer names the code: its use is taken, the bot holds it no more.
    ready = CheckoutReady(
        checkout_id=uuid.UUID(request["checkout_id"]),
        customer_id=customer_id,
        order_id=uuid.uuid4(),
        provider="yookassa",
        provider_payment_id="2f4e0a1b-000f-5000-8000-1a2b3c4d5e6f",
        confirmation_url="https://yoomoney.ru/checkout/payments/v2/contract?orderId=x",
        amount=Money(amount_minor=15920, currency="RUB"),
        list_price=Money(amount_minor=19900, currency="RUB"),
        promo_code="SPRING20",
    )
    await world.handle(lambda ctx: CheckoutAnswers(Wakeup()).ready(ready, ctx), ready)
    async with world.sessions() as session:
        assert await session.get(CustomerPromo, customer_id) is None


async def test_a_code_refused_at_checkout_is_dropped(world: BotWorld) -> None:
    user, customer_id = await started(world, "en")
    await accepted(world, customer_id, PromoOffer(code="LAST10", kind="percent", percent_off=10))
    await press(world, user, "m:buy")
    await press(world, user, "plan:m1")
    await press(world, user, "pq:m1:yookassa:RUB:19900")
    [request] = await commands(world, "bot.checkout.requested.v1", customer_id)
    failed = CheckoutFailed(
        checkout_id=uuid.UUID(request["checkout_id"]),
        customer_id=customer_id,
        reason_code="promo_exhausted",
        reason="promo code LAST10: promo_exhausted",
    )
    await world.handle(lambda ctx: CheckoutAnswers(Wakeup()).failed(failed, ctx), failed)
    async with world.sessions() as session:
        assert await session.get(CustomerPromo, customer_id) is None
    # The plan is shown at its own price again.
    await say(world, user, "/buy")
    details = await press(world, user, "plan:m1")
    assert "with code" not in (details.text or "")
