"""The payment link reaches the customer's message once, whatever Telegram does meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.checkouts import CheckoutAnswers, CheckoutScreens
from bot.models import Checkout, Customer
from chassis.worker import RetryPolicy, Wakeup
from contracts.billing import CheckoutReady
from contracts.money import Money
from sandbox.telegram import SandboxUser

from .conftest import BotWorld

pytestmark = pytest.mark.integration

PAY_URL = "https://yoomoney.ru/checkout/payments/v2/contract?orderId=2d9f"


def screens(world: BotWorld) -> CheckoutScreens:
    return CheckoutScreens(
        world.bot,
        world.sessions,
        retry=RetryPolicy(first_delay_s=0.2, max_delay_s=1.0),
        give_up_after_attempts=20,
    )


async def customer_with_a_checkout(world: BotWorld) -> tuple[SandboxUser, uuid.UUID, int]:
    """A customer who pressed "pay": their message shows "preparing", billing has not answered."""
    user = await world.telegram.create_user("Payer", language_code="en")
    await world.telegram.send_text(user.id, "/buy")
    await world.deliver(await world.next_update())
    message = (await world.telegram.transcript(user.id)).bot_messages()[-1]
    checkout_id = uuid.uuid4()
    async with world.sessions.begin() as session:
        customer = await session.scalar(
            select(Customer).where(Customer.telegram_user_id == user.id)
        )
        assert customer is not None
        now = datetime.now(UTC)
        session.add(
            Checkout(
                checkout_id=checkout_id,
                customer_id=customer.customer_id,
                chat_id=user.id,
                message_id=message.message_id,
                plan_id="m1",
                provider="yookassa",
                status="requested",
                requested_at=now,
                screen_shown="preparing",
                screen_due_at=now + timedelta(seconds=10),
                screen_attempts=0,
            )
        )
    return user, checkout_id, message.message_id


async def billing_answers(world: BotWorld, checkout_id: uuid.UUID) -> None:
    async with world.sessions() as session:
        customer_id = await session.scalar(
            select(Checkout.customer_id).where(Checkout.checkout_id == checkout_id)
        )
    assert customer_id is not None
    answer = CheckoutReady(
        checkout_id=checkout_id,
        customer_id=customer_id,
        order_id=uuid.uuid4(),
        provider="yookassa",
        provider_payment_id="2d9f",
        confirmation_url=PAY_URL,
        amount=Money(amount_minor=19900, currency="RUB"),
    )
    await world.handle(lambda ctx: CheckoutAnswers(Wakeup()).ready(answer, ctx), answer)


async def run_until_shown(worker: CheckoutScreens, world: BotWorld, checkout_id: uuid.UUID) -> str:
    for _ in range(100):
        await worker.step()
        async with world.sessions() as session:
            row = await session.get(Checkout, checkout_id, populate_existing=True)
        assert row is not None
        if row.screen_due_at is None:
            return row.screen_shown
        await asyncio.sleep(0.1)
    raise AssertionError("the checkout was never shown")


async def link_messages(world: BotWorld, user_id: int) -> list[int]:
    """Bot messages in the chat whose keyboard holds the payment link."""
    transcript = await world.telegram.transcript(user_id)
    return [m.message_id for m in transcript.bot_messages() if PAY_URL in str(m.reply_markup or {})]


@pytest.mark.parametrize(
    "outage",
    [
        {"mode": "flood", "retry_after": 1, "methods": ["editMessageText", "sendMessage"]},
        {"mode": "error", "status": 502},
    ],
    ids=["flood-control", "telegram-down"],
)
async def test_the_link_is_shown_once_after_telegram_recovers(
    world: BotWorld, outage: dict[str, object]
) -> None:
    user, checkout_id, message_id = await customer_with_a_checkout(world)
    worker = screens(world)
    await billing_answers(world, checkout_id)

    await world.telegram.outage(**outage)  # type: ignore[arg-type]
    try:
        assert await worker.step() == 1  # tried, failed, put back with a delay
        assert await worker.step() == 0  # not due again at once
        async with world.sessions() as session:
            row = await session.get(Checkout, checkout_id)
        assert row is not None
        assert row.screen_shown == "preparing"
        assert row.screen_due_at is not None
        assert await link_messages(world, user.id) == []
    finally:
        await world.telegram.restore()

    assert await run_until_shown(worker, world, checkout_id) == "ready"
    assert await link_messages(world, user.id) == [message_id]  # edited in place, once
    text = (await world.telegram.transcript(user.id)).bot_messages()[-1].text or ""
    assert "199\u00a0₽" in text


async def test_a_repeated_answer_or_a_replayed_show_posts_nothing_new(world: BotWorld) -> None:
    user, checkout_id, message_id = await customer_with_a_checkout(world)
    worker = screens(world)
    await billing_answers(world, checkout_id)
    assert await run_until_shown(worker, world, checkout_id) == "ready"

    await billing_answers(world, checkout_id)  # billing's answer delivered again
    async with world.sessions.begin() as session:  # and a crash after the edit, before done
        await session.execute(
            update(Checkout)
            .where(Checkout.checkout_id == checkout_id)
            .values(screen_due_at=datetime.now(UTC))
        )
    assert await run_until_shown(worker, world, checkout_id) == "ready"  # "not modified"

    assert await link_messages(world, user.id) == [message_id]
    assert len((await world.telegram.transcript(user.id)).bot_messages()) == 1


async def test_a_message_that_cannot_be_edited_gets_the_link_as_one_new_message(
    world: BotWorld,
) -> None:
    user, checkout_id, message_id = await customer_with_a_checkout(world)
    await world.bot.delete_message(user.id, message_id)
    worker = screens(world)
    await billing_answers(world, checkout_id)

    assert await run_until_shown(worker, world, checkout_id) == "ready"
    sent = await link_messages(world, user.id)
    assert len(sent) == 1
    assert sent[0] != message_id

    async with world.sessions.begin() as session:
        await session.execute(
            update(Checkout)
            .where(Checkout.checkout_id == checkout_id)
            .values(screen_due_at=datetime.now(UTC))
        )
    assert await run_until_shown(worker, world, checkout_id) == "ready"
    assert await link_messages(world, user.id) == sent  # the new message is edited, not resent


async def test_a_late_link_is_announced_while_it_is_still_coming(world: BotWorld) -> None:
    user, checkout_id, message_id = await customer_with_a_checkout(world)
    async with world.sessions.begin() as session:
        await session.execute(
            update(Checkout)
            .where(Checkout.checkout_id == checkout_id)
            .values(screen_due_at=datetime.now(UTC))
        )
    worker = screens(world)
    assert await run_until_shown(worker, world, checkout_id) == "slow"
    text = (await world.telegram.transcript(user.id)).bot_messages()[-1].text or ""
    assert "slower than usual" in text

    await billing_answers(world, checkout_id)
    assert await run_until_shown(worker, world, checkout_id) == "ready"
    assert await link_messages(world, user.id) == [message_id]
