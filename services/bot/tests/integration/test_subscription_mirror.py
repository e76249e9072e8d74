"""What "My subscription" reads: the bot's mirror of billing's and provisioning's events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.events import record_access, record_access_status, record_subscription, record_usage
from bot.models import CustomerSubscription, TrafficUsage
from contracts.billing import SubscriptionActivated, SubscriptionExtended
from contracts.provisioning import (
    AccessGranted,
    AccessStatusChanged,
    SubscriptionUsage,
    UsageReported,
)

from .conftest import BotWorld

pytestmark = pytest.mark.integration

GIB = 1024**3


async def row(world: BotWorld, subscription_id: uuid.UUID) -> CustomerSubscription:
    async with world.sessions() as session:
        found = await session.get(CustomerSubscription, subscription_id)
    assert found is not None
    return found


async def test_access_before_the_subscription_then_a_renewal_and_a_replay(
    world: BotWorld,
) -> None:
    subscription_id, customer_id, order_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    first_end = start + timedelta(days=30)
    activated = SubscriptionActivated(
        subscription_id=subscription_id,
        customer_id=customer_id,
        plan_id="m1",
        order_id=order_id,
        period_start=start,
        period_end=first_end,
        traffic_limit_bytes=100 * GIB,
        revision=1,
    )
    access = AccessGranted(
        subscription_id=subscription_id,
        customer_id=customer_id,
        region="nl",
        panel_id="nl-1",
        panel_username="vpn_abc",
        subscription_url="https://vpn.example/sub/abc",
        expires_at=first_end,
        traffic_limit_bytes=100 * GIB,
    )

    # Provisioning's report arrives first (another topic): the row exists, plan unknown.
    await world.handle(lambda ctx: record_access(access, ctx), access)
    early = await row(world, subscription_id)
    assert early.plan_id == ""
    assert early.subscription_url == "https://vpn.example/sub/abc"
    assert early.access_expires_at == first_end

    await world.handle(lambda ctx: record_subscription(activated, ctx), activated)
    mirrored = await row(world, subscription_id)
    assert (mirrored.plan_id, mirrored.period_end) == ("m1", first_end)
    assert mirrored.subscription_url == "https://vpn.example/sub/abc"  # kept

    renewed = SubscriptionExtended(
        **activated.model_dump()
        | {
            "period_start": first_end,
            "period_end": first_end + timedelta(days=30),
            "previous_period_end": first_end,
            "revision": 2,
        }
    )
    await world.handle(lambda ctx: record_subscription(renewed, ctx), renewed)
    assert (await row(world, subscription_id)).period_end == first_end + timedelta(days=30)

    # A redelivered activation (an older period) does not shorten what the customer sees.
    await world.handle(lambda ctx: record_subscription(activated, ctx), activated)
    assert (await row(world, subscription_id)).period_end == first_end + timedelta(days=30)


async def test_the_panels_own_changes_replace_the_granted_status(world: BotWorld) -> None:
    subscription_id, customer_id = uuid.uuid4(), uuid.uuid4()
    end = datetime(2027, 1, 1, tzinfo=UTC)
    granted = AccessGranted(
        subscription_id=subscription_id,
        customer_id=customer_id,
        region="nl",
        panel_id="nl-1",
        panel_username="vpn_" + subscription_id.hex[:28],
        subscription_url="https://vpn.example/sub/abc",
        expires_at=end,
        traffic_limit_bytes=100 * GIB,
    )
    await world.handle(lambda ctx: record_access(granted, ctx), granted)
    assert (await row(world, subscription_id)).access_status == "active"

    limited = AccessStatusChanged(
        subscription_id=subscription_id,
        customer_id=customer_id,
        status="limited",
        used_traffic_bytes=100 * GIB,
        traffic_limit_bytes=100 * GIB,
        observed_at=datetime(2026, 12, 20, tzinfo=UTC),
    )
    await world.handle(lambda ctx: record_access_status(limited, ctx), limited)
    assert (await row(world, subscription_id)).access_status == "limited"

    # Renewed: the next grant is active again.
    again = AccessGranted(**granted.model_dump() | {"expires_at": end + timedelta(days=30)})
    await world.handle(lambda ctx: record_access(again, ctx), again)
    assert (await row(world, subscription_id)).access_status == "active"


def _usage(subscription_id: uuid.UUID, used: int, at: datetime) -> UsageReported:
    return UsageReported(
        panel_id="nl-1",
        usages=(
            SubscriptionUsage(
                subscription_id=subscription_id,
                customer_id=uuid.uuid4(),
                used_traffic_bytes=used,
                traffic_limit_bytes=100 * GIB,
                observed_at=at,
            ),
        ),
    )


async def test_usage_keeps_the_latest_observation(world: BotWorld) -> None:
    subscription_id = uuid.uuid4()
    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    later = _usage(subscription_id, 40 * GIB, at + timedelta(minutes=1))
    await world.handle(lambda ctx: record_usage(later, ctx), later)
    # An older report (from the panel the subscription left) changes nothing.
    older = _usage(subscription_id, 70 * GIB, at)
    await world.handle(lambda ctx: record_usage(older, ctx), older)
    async with world.sessions() as session:
        usage = await session.get(TrafficUsage, subscription_id)
    assert usage is not None
    assert (usage.used_bytes, usage.limit_bytes) == (40 * GIB, 100 * GIB)
