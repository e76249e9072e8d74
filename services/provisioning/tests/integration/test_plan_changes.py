"""Plan changes and traffic packs on the Marzban sandbox: an upgrade starts the new plan's
allowance at once (nothing carried: its credit was time); a downgrade paid ahead only
moves the expiry, and its plan's allowance starts when billing applies it; traffic bought
raises the limit of the current allowance (a limited user connects again)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chassis.db import transaction
from chassis.messaging.consumer import MessageContext
from chassis.worker import Wakeup
from contracts.billing import (
    SubscriptionExtended,
    SubscriptionPlanChanged,
    SubscriptionTrafficAdded,
)
from contracts.envelope import Envelope
from provisioning.placements import panel_username, record_traffic

from .test_placement_worker import GIB, Setup, _activated, _record, _settle
from .test_placement_worker import setup as setup  # the fixture

pytestmark = pytest.mark.integration


def _changed(
    subscription: uuid.UUID,
    customer: uuid.UUID,
    *,
    change: str,
    start: datetime,
    end: datetime,
    limit: int,
    revision: int,
    carry_over: bool = True,
) -> SubscriptionPlanChanged:
    return SubscriptionPlanChanged(
        subscription_id=subscription,
        customer_id=customer,
        plan_id="m1-pro" if change == "upgrade" else "m1-lite",
        previous_plan_id="m1",
        order_id=uuid.uuid4(),
        period_start=start,
        period_end=end,
        traffic_limit_bytes=limit,
        revision=revision,
        traffic_carry_over=carry_over,
        change=change,  # type: ignore[arg-type]
        credit_hours=240 if change == "upgrade" else 0,
        changed_at=start,
    )


async def test_an_upgrade_starts_its_allowance_now_and_carries_nothing(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    await _activated(setup, subscription, customer)
    await setup.panel.add_traffic(username, 30 * GIB)
    now = datetime.now(UTC).replace(microsecond=0)
    end = now + timedelta(days=40)
    upgrade = _changed(
        subscription, customer, change="upgrade", start=now, end=end, limit=300 * GIB, revision=2
    )
    await _record(setup, upgrade)
    placement = await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["used_traffic"], user["data_limit"]) == ("active", 0, 300 * GIB)
    assert user["expire"] == int(end.timestamp())
    assert placement.carried_bytes == 0


async def test_a_downgrade_paid_ahead_moves_the_expiry_only_until_it_applies(
    setup: Setup,
) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    await setup.panel.add_traffic(username, 30 * GIB)
    paid_ahead = SubscriptionExtended(
        subscription_id=subscription,
        customer_id=customer,
        plan_id="m1",
        order_id=uuid.uuid4(),
        period_start=end,
        period_end=end + timedelta(days=30),
        previous_period_end=end,
        traffic_limit_bytes=100 * GIB,
        revision=2,
        next_plan_id="m1-lite",
    )
    await _record(setup, paid_ahead)
    await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    # The current allowance and its usage go on; only the expiry is later.
    assert (user["used_traffic"], user["data_limit"]) == (30 * GIB, 100 * GIB)
    assert user["expire"] == int((end + timedelta(days=30)).timestamp())

    downgrade = _changed(
        subscription,
        customer,
        change="downgrade",
        start=end,
        end=end + timedelta(days=30),
        limit=50 * GIB,
        revision=3,
        carry_over=False,
    )
    await _record(setup, downgrade)
    await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["used_traffic"], user["data_limit"]) == ("active", 0, 50 * GIB)


async def test_traffic_bought_raises_the_limit_and_a_limited_user_connects_again(
    setup: Setup,
) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    await setup.panel.add_traffic(username, 101 * GIB)
    await setup.panel.run_review()
    limited = await setup.panel.user(username)
    assert limited is not None
    assert limited["status"] == "limited"
    added = ten_gib_added(subscription, customer, end)
    await _record_traffic(setup, added)
    await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["used_traffic"], user["data_limit"]) == (
        "active",
        101 * GIB,
        110 * GIB,
    )
    # Replayed, it changes nothing; a renewal starts the next allowance without it.
    await _record_traffic(setup, added)
    renewal = SubscriptionExtended(
        subscription_id=subscription,
        customer_id=customer,
        plan_id="m1",
        order_id=uuid.uuid4(),
        period_start=end,
        period_end=end + timedelta(days=30),
        previous_period_end=end,
        traffic_limit_bytes=100 * GIB,
        revision=3,
        traffic_carry_over=False,
    )
    await _record(setup, renewal)
    placement = await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["used_traffic"], user["data_limit"]) == (0, 100 * GIB)
    assert placement.extra_bytes == 0


def ten_gib_added(
    subscription: uuid.UUID, customer: uuid.UUID, end: datetime
) -> SubscriptionTrafficAdded:
    """A 10 GiB pack paid for the current 100 GiB allowance (billing's revision 2)."""
    return SubscriptionTrafficAdded(
        subscription_id=subscription,
        customer_id=customer,
        order_id=uuid.uuid4(),
        added_bytes=10 * GIB,
        extra_traffic_bytes=10 * GIB,
        traffic_limit_bytes=100 * GIB,
        period_end=end,
        revision=2,
        added_at=datetime.now(UTC),
    )


async def _record_traffic(setup: Setup, event: SubscriptionTrafficAdded) -> None:
    envelope = Envelope.for_event(event, source="/vpn/billing")
    async with transaction(setup.sessions) as session:
        ctx = MessageContext(session, envelope, setup.outbox, event.topic.name, 0, 0)
        await record_traffic(event, ctx, wakeup=Wakeup())
