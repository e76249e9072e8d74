"""Plan changes in the bot: a subscriber choosing a plan of another tier is told what it
does (an upgrade at once with a credit, a downgrade after the current plan ends), and a
change of plan is what "My subscription" shows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.events import record_subscription
from bot.models import CustomerSubscription
from contracts.billing import SubscriptionActivated, SubscriptionPlanChanged

from .conftest import BotWorld
from .test_price_quotes import catalog, publish
from .test_promo_codes import started
from .test_settings import press

pytestmark = pytest.mark.integration

GIB = 1024**3


async def subscribed(world: BotWorld, customer_id: uuid.UUID, plan_id: str) -> uuid.UUID:
    subscription = uuid.uuid4()
    now = datetime.now(UTC)
    event = SubscriptionActivated(
        subscription_id=subscription,
        customer_id=customer_id,
        plan_id=plan_id,
        order_id=uuid.uuid4(),
        period_start=now,
        period_end=now + timedelta(days=30),
        traffic_limit_bytes=100 * GIB,
        revision=1,
    )
    await world.handle(lambda ctx: record_subscription(event, ctx), event)
    return subscription


async def test_a_subscriber_is_told_what_another_tier_does(world: BotWorld) -> None:
    published = catalog(42, experiment=False)
    pro = published.plans[0].model_copy(update={"plan_id": "m1-pro", "tier": 1, "quote_id": None})
    await publish(world, published.model_copy(update={"plans": (*published.plans, pro)}))
    user, customer_id = await started(world, "en")
    await subscribed(world, customer_id, "m1")
    await press(world, user, "m:buy")
    upgrade = await press(world, user, "plan:m1-pro")
    assert "An upgrade from 1 month: it starts at once" in (upgrade.text or "")
    await press(world, user, "m:buy")
    same = await press(world, user, "plan:m1")
    assert "upgrade" not in (same.text or "")


async def test_a_downgrade_is_said_to_start_after_the_current_plan(world: BotWorld) -> None:
    published = catalog(52, experiment=False)
    pro = published.plans[0].model_copy(update={"plan_id": "m1-pro", "tier": 1, "quote_id": None})
    await publish(world, published.model_copy(update={"plans": (*published.plans, pro)}))
    user, customer_id = await started(world, "ru")
    subscription = await subscribed(world, customer_id, "m1-pro")
    await press(world, user, "m:buy")
    downgrade = await press(world, user, "plan:m1")
    assert "этот тариф начнётся после него" in (downgrade.text or "")

    now = datetime.now(UTC)
    changed = SubscriptionPlanChanged(
        subscription_id=subscription,
        customer_id=customer_id,
        plan_id="m1",
        previous_plan_id="m1-pro",
        order_id=uuid.uuid4(),
        period_start=now,
        period_end=now + timedelta(days=60),
        traffic_limit_bytes=100 * GIB,
        revision=3,
        change="downgrade",
        changed_at=now,
    )
    await world.handle(lambda ctx: record_subscription(changed, ctx), changed)
    async with world.sessions() as session:
        mirrored = await session.get(CustomerSubscription, subscription)
    assert mirrored is not None
    assert (mirrored.plan_id, mirrored.period_end) == ("m1", changed.period_end)
