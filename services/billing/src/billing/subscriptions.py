"""Subscriptions' SQL: a paid plan order starts or extends the customer's subscription; a
refund of one shortens it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain import refunds as rules
from billing.domain.periods import next_period
from billing.models import Order, Subscription
from contracts.billing import SubscriptionActivated, SubscriptionExtended, SubscriptionShortened


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
    subscription.revision += 1
    subscription.updated_at = datetime.now(UTC)
    order.subscription_id = subscription.subscription_id
    common: dict[str, Any] = {
        "subscription_id": subscription.subscription_id,
        "customer_id": order.customer_id,
        "plan_id": order.plan_id,
        "order_id": order.order_id,
        "period_start": period.start,
        "period_end": period.end,
        "traffic_limit_bytes": order.traffic_limit_bytes,
        "revision": subscription.revision,
    }
    if period.previous_end is None:
        return SubscriptionActivated(**common)
    return SubscriptionExtended(**common, previous_period_end=period.previous_end)


async def shorten_for(
    session: AsyncSession,
    order: Order,
    *,
    refund_id: uuid.UUID,
    before_minor: int,
    amount_minor: int,
    now: datetime,
) -> tuple[datetime | None, SubscriptionShortened | None]:
    """Take a refunded share of the order's period off the subscription's end.

    Returns the end of access afterwards (None when the customer has no subscription) and
    the event, when the end moved.
    """
    query = select(Subscription).with_for_update().execution_options(populate_existing=True)
    if order.subscription_id is not None:
        query = query.where(Subscription.subscription_id == order.subscription_id)
    else:
        query = query.where(Subscription.customer_id == order.customer_id)
    subscription = await session.scalar(query)
    if subscription is None:
        return None, None
    change = rules.shortened(
        current_end=subscription.period_end,
        now=now,
        duration_days=order.duration_days,
        paid_minor=order.amount_minor,
        before_minor=before_minor,
        amount_minor=amount_minor,
    )
    if change is None:
        return subscription.period_end, None
    subscription.period_end = change.period_end
    subscription.period_start = min(subscription.period_start, change.period_end)
    subscription.revision += 1
    subscription.updated_at = now
    return change.period_end, SubscriptionShortened(
        subscription_id=subscription.subscription_id,
        customer_id=subscription.customer_id,
        plan_id=subscription.plan_id,
        order_id=order.order_id,
        refund_id=refund_id,
        period_end=change.period_end,
        previous_period_end=change.previous_end,
        traffic_limit_bytes=subscription.traffic_limit_bytes,
        revision=subscription.revision,
        ended=change.ended,
        shortened_at=now,
    )
