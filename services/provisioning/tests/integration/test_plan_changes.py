"""Plan changes on the Marzban sandbox: an upgrade starts the new plan's allowance at once
(nothing carried: its credit was time); a downgrade paid ahead only moves the expiry, and
its plan's allowance starts when billing applies it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts.billing import SubscriptionExtended, SubscriptionPlanChanged
from provisioning.placements import panel_username

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
