"""Subscriptions' SQL: a paid plan order starts or extends the customer's subscription."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain.periods import next_period
from billing.models import Order, Subscription
from contracts.billing import SubscriptionActivated, SubscriptionExtended


async def extend_for(
    session: AsyncSession, order: Order, paid_at: datetime
) -> SubscriptionActivated | SubscriptionExtended:
    """Add the order's period to the customer's subscription (creating it if there is none).

    The subscription row is locked, so two orders paid at once extend one after the other.
    """
    assert order.plan_id is not None
    created = await session.scalar(
        insert(Subscription)
        .values(
            subscription_id=uuid.uuid4(),
            customer_id=order.customer_id,
            plan_id=order.plan_id,
            period_start=paid_at,
            period_end=paid_at,
            traffic_limit_bytes=order.traffic_limit_bytes,
        )
        .on_conflict_do_nothing(index_elements=[Subscription.customer_id])
        .returning(Subscription.subscription_id)
    )
    subscription = await session.scalar(
        select(Subscription)
        .where(Subscription.customer_id == order.customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert subscription is not None
    current_end = None if created is not None else subscription.period_end
    period = next_period(current_end, paid_at, order.duration_days)
    subscription.plan_id = order.plan_id
    subscription.period_start = period.start
    subscription.period_end = period.end
    subscription.traffic_limit_bytes = order.traffic_limit_bytes
    subscription.updated_at = datetime.now(UTC)
    order.subscription_id = subscription.subscription_id
    common = {
        "subscription_id": subscription.subscription_id,
        "customer_id": order.customer_id,
        "plan_id": order.plan_id,
        "order_id": order.order_id,
        "period_start": period.start,
        "period_end": period.end,
        "traffic_limit_bytes": order.traffic_limit_bytes,
    }
    if period.previous_end is None:
        return SubscriptionActivated(**common)
    return SubscriptionExtended(**common, previous_period_end=period.previous_end)
