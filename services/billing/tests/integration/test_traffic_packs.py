"""Traffic packs on a real PostgreSQL: sold to a subscriber with a traffic limit and paid
time ahead, added to the current allowance (all of it on the event), told to the
customer, started again by the next allowance; refused, and nothing charged, without such
a subscription or on a plan whose allowance resets every month."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from billing import plans
from billing.models import Order
from billing.orders import order_id_for
from chassis.db import transaction
from contracts.bot import RequestTrafficPack
from contracts.money import Money

from .conftest import Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GIB = 1024**3


async def traffic_events(billing: Billing, subscription: uuid.UUID) -> list[dict[str, Any]]:
    return await billing.events(str(subscription), "billing.subscription.traffic_added.v1")


async def refusal(billing: Billing, customer: uuid.UUID, pack: str = "gb10") -> str:
    """A traffic checkout that is refused: its reason; no order was made."""
    request = RequestTrafficPack(
        checkout_id=uuid.uuid4(),
        customer_id=customer,
        pack_id=pack,
        provider="yookassa",
        requested_at=datetime.now(UTC),
    )
    await billing.consume(request, billing.checkouts().traffic)
    async with billing.sessions() as session:
        assert await session.get(Order, order_id_for(request.checkout_id)) is None
    [failed] = await billing.events(str(request.checkout_id), "billing.checkout.failed.v1")
    return str(failed["reason_code"])


async def test_a_pack_adds_to_the_current_allowance_until_the_next_one(billing: Billing) -> None:
    plan = await billing.buy()
    customer = plan.customer_id
    first = await billing.buy(customer=customer, traffic="gb10")
    assert (first.kind, first.pack_id, first.amount_minor) == ("traffic", "gb10", 4900)
    subscription = await billing.subscription(customer)
    assert subscription.extra_traffic_bytes == 10 * GIB
    second = await billing.buy(customer=customer, traffic="gb50")
    assert second.amount_minor == 14900
    after = await billing.subscription(customer)
    assert after.extra_traffic_bytes == 60 * GIB
    assert after.period_end == subscription.period_end  # time is not traffic
    added = await traffic_events(billing, after.subscription_id)
    assert [(e["added_bytes"], e["extra_traffic_bytes"]) for e in added] == [
        (10 * GIB, 10 * GIB),
        (50 * GIB, 60 * GIB),
    ]
    assert added[1]["traffic_limit_bytes"] == 100 * GIB
    assert added[1]["revision"] == after.revision
    sent = await billing.events(str(customer), "notifier.notification.requested.v1")
    told = [e for e in sent if e["template"] == "traffic.added"]
    assert [e["params"]["total_bytes"] for e in told] == [110 * GIB, 160 * GIB]
    paid = await billing.events(str(second.order_id), "billing.payment.succeeded.v1")
    assert (paid[0]["kind"], paid[0]["plan_id"]) == ("traffic", "gb50")

    # A renewal starts a new allowance: the packs were for the old one.
    await billing.buy(customer=customer)
    assert (await billing.subscription(customer)).extra_traffic_bytes == 0


async def test_a_pack_without_a_limited_subscription_is_refused(billing: Billing) -> None:
    assert await refusal(billing, uuid.uuid4()) == "traffic_needs_subscription"
    assert await refusal(billing, uuid.uuid4(), pack="gb999") == "plan_not_found"
    unlimited = await billing.buy(plan="y1")  # the seeded year plan has no limit
    assert await refusal(billing, unlimited.customer_id) == "traffic_needs_subscription"


async def test_a_pack_is_not_sold_for_a_monthly_allowance(billing: Billing) -> None:
    async with transaction(billing.sessions) as session:
        await plans.define(
            session,
            plans.PlanDefinition(
                plan_id="q3-monthly",
                titles={"en": "3 months, 100 GB a month"},
                duration_days=90,
                duration_months=3,
                prices=(Money(amount_minor=54900, currency="RUB"),),
                traffic_limit_bytes=100 * GIB,
                traffic_carry_over=False,
                traffic_reset="month",
                tier=0,
                active=True,
                position=None,
            ),
        )
    monthly = await billing.buy(plan="q3-monthly")
    assert await refusal(billing, monthly.customer_id) == "traffic_not_for_plan"
