"""Plans in calendar months and their traffic rules, from the operator's row to the order,
the subscription and the events provisioning reads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from billing import catalog
from billing.catalog import PaymentMethods
from billing.domain.periods import add_months
from billing.models import PlanPrice, PlanRow
from billing.providers import Providers
from chassis.db import transaction

from .conftest import Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GIB = 1024**3
Q3_PRICE = 49900


async def quarterly(billing: Billing) -> str:
    """A plan of three calendar months with 100 GiB a month, reset by the panel."""
    plan_id = f"q3-{uuid.uuid4().hex[:8]}"
    async with transaction(billing.sessions) as session:
        await session.execute(
            insert(PlanRow).values(
                plan_id=plan_id,
                titles={"ru": "3 месяца", "en": "3 months"},
                duration_days=90,
                duration_months=3,
                traffic_limit_bytes=100 * GIB,
                traffic_carry_over=False,
                traffic_reset="month",
                active=True,
                position=90,
            )
        )
        await session.execute(
            insert(PlanPrice).values(plan_id=plan_id, currency="RUB", amount_minor=Q3_PRICE)
        )
    return plan_id


async def test_a_month_plan_ends_on_its_anchor_day_and_tells_its_traffic_rules(
    billing: Billing,
) -> None:
    plan = await quarterly(billing)
    order = await billing.buy(plan=plan)
    subscription = await billing.subscription(order.customer_id)
    start = subscription.period_start
    assert subscription.anchor_day == start.day
    assert subscription.period_end == add_months(start, 3, start.day)
    assert (order.duration_months, order.traffic_reset, order.traffic_carry_over) == (
        3,
        "month",
        False,
    )
    paid = await billing.order(order.order_id)
    assert (paid.period_start, paid.period_end) == (start, subscription.period_end)
    [activated] = await billing.events(
        str(subscription.subscription_id), "billing.subscription.activated.v1"
    )
    assert (activated["traffic_reset"], activated["traffic_carry_over"]) == ("month", False)

    again = await billing.buy(plan=plan, customer=order.customer_id)
    renewed = await billing.subscription(order.customer_id)
    assert renewed.period_end == add_months(start, 6, start.day)
    assert renewed.anchor_day == start.day
    [extended] = await billing.events(
        str(subscription.subscription_id), "billing.subscription.extended.v1"
    )
    assert extended["traffic_reset"] == "month"
    bought = await billing.order(again.order_id)
    assert bought.period_start == subscription.period_end


async def test_a_refund_of_a_month_plan_takes_its_share_of_the_months_bought(
    billing: Billing,
) -> None:
    order = await billing.buy(plan=await quarterly(billing))
    subscription = await billing.subscription(order.customer_id)
    bought = subscription.period_end - subscription.period_start  # 89 to 92 days

    await billing.refund(order, "249.50")  # half
    assert await billing.worker().step() == 1

    shortened = await billing.subscription(order.customer_id)
    half = timedelta(seconds=int(bought.total_seconds()) * 24950 // Q3_PRICE)
    assert shortened.period_end == subscription.period_end - half


async def test_the_catalog_publishes_the_period_and_the_traffic_rules(billing: Billing) -> None:
    plan = await quarterly(billing)
    async with billing.sessions() as session:
        published = await catalog.current(
            session, PaymentMethods.of(Providers([]), wallet_currency=None, receipts=False)
        )
    offer = next(p for p in published.plans if p.plan_id == plan)
    assert (offer.duration_days, offer.duration_months) == (90, 3)
    assert (offer.traffic_carry_over, offer.traffic_reset) == (False, "month")
    seeded = next(p for p in published.plans if p.plan_id == "m1")
    assert (seeded.duration_months, seeded.traffic_carry_over, seeded.traffic_reset) == (
        0,
        True,
        "none",
    )


@pytest.mark.parametrize(
    ("carry_over", "reset", "months"),
    [(True, "month", 0), (False, "weekly", 0), (False, "none", -1)],
    ids=["carry-and-reset", "unknown-reset", "negative-months"],
)
async def test_the_database_refuses_a_plan_whose_rules_contradict(
    billing: Billing, carry_over: bool, reset: str, months: int
) -> None:
    """A monthly reset starts each month afresh: carrying the rest into it would grant the
    carried traffic again every month."""
    with pytest.raises(IntegrityError):
        async with transaction(billing.sessions) as session:
            await session.execute(
                insert(PlanRow).values(
                    plan_id=f"bad-{uuid.uuid4().hex[:8]}",
                    titles={"en": "bad"},
                    duration_days=30,
                    duration_months=months,
                    traffic_limit_bytes=GIB,
                    traffic_carry_over=carry_over,
                    traffic_reset=reset,
                    active=True,
                    position=1,
                )
            )


async def test_the_region_chosen_at_checkout_goes_with_the_new_subscription(
    billing: Billing,
) -> None:
    order = await billing.buy(region="nl", protocol="trojan")
    assert (order.region, order.protocol) == ("nl", "trojan")
    subscription = await billing.subscription(order.customer_id)
    [activated] = await billing.events(
        str(subscription.subscription_id), "billing.subscription.activated.v1"
    )
    assert (activated["region"], activated["protocol"]) == ("nl", "trojan")
    # Chosen by nobody: provisioning's default, said by leaving it out.
    other = await billing.buy()
    first = await billing.subscription(other.customer_id)
    [plain] = await billing.events(str(first.subscription_id), "billing.subscription.activated.v1")
    assert plain.get("region") is None
    assert plain.get("protocol") is None
