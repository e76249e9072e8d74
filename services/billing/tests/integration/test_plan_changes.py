"""Plan changes on a real PostgreSQL: an upgrade starts at once with the unused part of the
old plan credited as time at the new plan's price; a downgrade is paid now and applies at
the end of the time paid at the old plan, by its due time; a renewal at the current tier
meanwhile keeps the customer where they are; time given free is added as it is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from billing import orders, plans
from billing.domain.orders import REFERRAL_PROVIDER
from billing.models import Subscription
from billing.payments import deliver
from chassis.db import transaction
from contracts.money import Money

from .conftest import Billing
from .test_lifecycle import Clock, worker

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GIB = 1024**3
PRO_PRICE = 39900  # 399 RUB for 30 days: twice the plan m1 (199 RUB)


async def with_pro_plan(billing: Billing) -> None:
    async with transaction(billing.sessions) as session:
        await plans.define(
            session,
            plans.PlanDefinition(
                plan_id="m1-pro",
                titles={"ru": "1 месяц Pro", "en": "1 month Pro"},
                duration_days=30,
                duration_months=0,
                prices=(Money(amount_minor=PRO_PRICE, currency="RUB"),),
                traffic_limit_bytes=300 * GIB,
                traffic_carry_over=True,
                traffic_reset="none",
                tier=1,
                active=True,
                position=None,
            ),
        )


async def notices(billing: Billing, customer: uuid.UUID, template: str) -> list[dict[str, Any]]:
    sent = await billing.events(str(customer), "notifier.notification.requested.v1")
    return [e for e in sent if e["template"] == template]


async def test_an_upgrade_starts_now_and_credits_the_unused_part(billing: Billing) -> None:
    await with_pro_plan(billing)
    basic = await billing.buy()
    before = await billing.subscription(basic.customer_id)
    pro = await billing.buy(customer=basic.customer_id, plan="m1-pro")
    after = await billing.subscription(basic.customer_id)
    assert pro.paid_at is not None
    assert (after.plan_id, after.tier, after.traffic_limit_bytes) == ("m1-pro", 1, 300 * GIB)
    assert after.period_start == pro.paid_at
    # Nearly all of 199 RUB unused, bought back at 399 RUB a month: about 15 days of Pro.
    credit = after.period_end - (pro.paid_at + timedelta(days=30))
    assert timedelta(hours=14 * 24) < credit <= timedelta(days=15)
    assert credit == timedelta(hours=credit.total_seconds() // 3600)  # whole hours
    assert after.period_end < before.period_end + timedelta(days=30)  # not simply appended
    [changed] = await billing.events(
        str(after.subscription_id), "billing.subscription.plan_changed.v1"
    )
    assert changed["change"] == "upgrade"
    assert changed["previous_plan_id"] == "m1"
    assert changed["credit_hours"] == credit.total_seconds() // 3600
    assert changed["traffic_limit_bytes"] == 300 * GIB
    [told] = await notices(billing, basic.customer_id, "subscription.upgraded")
    assert told["params"]["plan"] == "1 месяц Pro"
    assert told["params"]["credit_hours"] == changed["credit_hours"]
    # What the upgrade's own order bought is its 30 days: a refund takes back from those.
    assert pro.period_end is not None
    assert pro.period_start is not None
    assert pro.period_end - pro.period_start == timedelta(days=30)


async def test_a_downgrade_applies_at_the_end_of_the_time_paid_at_the_old_plan(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    await with_pro_plan(billing)
    pro = await billing.buy(plan="m1-pro")
    customer = pro.customer_id
    pro_end = (await billing.subscription(customer)).period_end
    basic = await billing.buy(customer=customer, plan="m1")
    waiting = await billing.subscription(customer)
    # Paid now, applied later: Pro and its traffic go on, the time is added after them.
    assert (waiting.plan_id, waiting.tier, waiting.traffic_limit_bytes) == ("m1-pro", 1, 300 * GIB)
    assert waiting.period_end == pro_end + timedelta(days=30)
    assert (waiting.pending_order_id, waiting.pending_from) == (basic.order_id, pro_end)
    [extended] = await billing.events(
        str(waiting.subscription_id), "billing.subscription.extended.v1"
    )
    assert extended["next_plan_id"] == "m1"
    assert (extended["plan_id"], extended["traffic_limit_bytes"]) == ("m1-pro", 300 * GIB)
    [scheduled] = await notices(billing, customer, "subscription.downgrade_scheduled")
    assert scheduled["params"]["from_at"] == pro_end.isoformat()

    due = worker(billing, clock)
    await due.step()
    assert (await billing.subscription(customer)).plan_id == "m1-pro"
    clock.move_to(pro_end + timedelta(seconds=1))
    for _ in range(3):
        await due.step()
    changed = await billing.subscription(customer)
    assert (changed.plan_id, changed.tier, changed.traffic_limit_bytes) == ("m1", 0, 100 * GIB)
    assert (changed.period_start, changed.period_end) == (pro_end, waiting.period_end)
    assert changed.pending_order_id is None
    [plan_changed] = await billing.events(
        str(changed.subscription_id), "billing.subscription.plan_changed.v1"
    )
    assert (plan_changed["change"], plan_changed["plan_id"]) == ("downgrade", "m1")
    assert plan_changed["order_id"] == str(basic.order_id)
    [told] = await notices(billing, customer, "subscription.plan_changed")
    assert told["params"]["plan"] == "1 месяц"
    # Fired once: the due time is done.
    await due.step()
    assert len(await notices(billing, customer, "subscription.plan_changed")) == 1


async def test_a_renewal_at_the_current_tier_keeps_the_customer_there(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    await with_pro_plan(billing)
    pro = await billing.buy(plan="m1-pro")
    customer = pro.customer_id
    pro_end = (await billing.subscription(customer)).period_end
    await billing.buy(customer=customer, plan="m1")
    await billing.buy(customer=customer, plan="m1-pro")
    kept = await billing.subscription(customer)
    assert (kept.plan_id, kept.pending_order_id) == ("m1-pro", None)
    assert kept.period_end == pro_end + timedelta(days=60)
    clock.move_to(pro_end + timedelta(seconds=1))
    due = worker(billing, clock)
    for _ in range(3):
        await due.step()
    assert (await billing.subscription(customer)).plan_id == "m1-pro"
    assert await notices(billing, customer, "subscription.plan_changed") == []


async def test_a_refunded_downgrade_does_not_apply(billing: Billing, tmp_path: Path) -> None:
    clock = Clock(tmp_path / "clock")
    await with_pro_plan(billing)
    pro = await billing.buy(plan="m1-pro")
    customer = pro.customer_id
    pro_end = (await billing.subscription(customer)).period_end
    basic = await billing.buy(customer=customer, plan="m1")
    await billing.refund(basic)
    assert await billing.worker().step() == 1
    clock.move_to(pro_end + timedelta(seconds=1))
    due = worker(billing, clock)
    for _ in range(3):
        await due.step()
    after = await billing.subscription(customer)
    assert (after.plan_id, after.pending_order_id) == ("m1-pro", None)
    assert after.period_end == pro_end


async def test_a_lapsed_subscription_starts_again_whatever_it_buys(billing: Billing) -> None:
    await with_pro_plan(billing)
    pro = await billing.buy(plan="m1-pro")
    customer = pro.customer_id
    async with transaction(billing.sessions) as session:
        subscription = await session.get(
            Subscription, (await billing.subscription(customer)).subscription_id
        )
        assert subscription is not None
        subscription.period_end = subscription.access_until = subscription.period_start
        subscription.stage = "suspended"
    basic = await billing.buy(customer=customer, plan="m1")
    after = await billing.subscription(customer)
    assert (after.plan_id, after.tier, after.pending_order_id) == ("m1", 0, None)
    assert basic.paid_at is not None
    assert after.period_end == basic.paid_at + timedelta(days=30)


async def test_time_given_free_keeps_the_tier(billing: Billing) -> None:
    """Days given (a referral bonus, a free-days code) are added as they are: a Pro
    subscriber stays on Pro's tier, and buying Pro again is a renewal."""
    await with_pro_plan(billing)
    pro = await billing.buy(plan="m1-pro")
    customer = pro.customer_id
    before = await billing.subscription(customer)
    async with transaction(billing.sessions) as session:
        given = orders.complimentary(
            uuid.uuid4(),
            customer,
            provider=REFERRAL_PROVIDER,
            plan_id="m1-pro",
            title="+7 days",
            language="en",
            currency="RUB",
            grace_hours=0,
            paid_at=datetime.now(UTC),
            duration_days=7,
            duration_months=0,
            traffic_limit_bytes=300 * GIB,
            traffic_carry_over=True,
            traffic_reset="none",
        )
        session.add(given)
        await deliver(session, given, datetime.now(UTC))
    after_gift = await billing.subscription(customer)
    assert after_gift.tier == 1
    assert after_gift.period_end == before.period_end + timedelta(days=7)
    await billing.buy(customer=customer, plan="m1-pro")
    renewed = await billing.subscription(customer)
    assert renewed.period_end == before.period_end + timedelta(days=37)
