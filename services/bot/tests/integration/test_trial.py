"""The free trial in the bot: offered in the menu to a customer without a subscription,
asked of billing with the Telegram account, gone from the menu once subscribed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import CustomerSubscription

from .conftest import BotWorld
from .test_promo_codes import commands, say, started
from .test_settings import press

pytestmark = pytest.mark.integration


async def menu_actions(world: BotWorld, user_id: int) -> list[str]:
    transcript = await world.telegram.transcript(user_id)
    markup = transcript.bot_messages()[-1].reply_markup or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_a_newcomer_is_offered_the_trial_and_asks_billing(world: BotWorld) -> None:
    user, customer_id = await started(world, "ru")
    assert "m:trial" in await menu_actions(world, user.id)
    starting = await press(world, user, "m:trial")
    assert "Запускаю пробный период" in (starting.text or "")
    [asked] = await commands(world, "bot.trial.requested.v1", customer_id)
    assert asked["telegram_user_id"] == user.id


async def test_a_subscriber_is_not_offered_the_trial(world: BotWorld) -> None:
    user, customer_id = await started(world, "en")
    now = datetime.now(UTC)
    async with world.sessions() as session, session.begin():
        session.add(
            CustomerSubscription(
                subscription_id=uuid.uuid4(),
                customer_id=customer_id,
                plan_id="m1",
                period_end=now + timedelta(days=30),
                traffic_limit_bytes=0,
                access_status="active",
                stage="active",
                updated_at=now,
            )
        )
    await say(world, user, "/start")
    assert "m:trial" not in await menu_actions(world, user.id)
