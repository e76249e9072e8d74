"""Subscriptions' SQL: a paid plan order starts or extends the customer's subscription; a
refund of one shortens it; the due times after its end suspend and remove it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain import refunds as rules
from billing.domain.lifecycle import Stage, access_until
from billing.domain.periods import Term, next_period
from billing.models import Order, Subscription
from chassis.db import bound
from contracts.billing import SubscriptionActivated, SubscriptionExtended, SubscriptionShortened


async def extend_for(
    session: AsyncSession, order: Order, paid_at: datetime
) -> SubscriptionActivated | SubscriptionExtended:
    """Add the order's period to the customer's subscription (creating it if there is none).

    The subscription row is locked, so two orders paid at once extend one after the other;
    two first orders at once meet at the insert, and the second extends what the first made.
    """
    assert order.plan_id is not None
    term = Term.of(days=order.duration_days, months=order.duration_months)
    # The order's own changes are flushed once, with the subscription id, at the end.
    with session.no_autoflush:
        subscription = await _locked(session, order.customer_id)
        if subscription is None:
            period = next_period(None, paid_at, term)
            subscription = await session.scalar(
                _FIRST,
                {
                    "subscription_id": uuid.uuid4(),
                    "customer_id": order.customer_id,
                    "plan_id": order.plan_id,
                    "period_start": period.start,
                    "period_end": period.end,
                    "access_until": access_until(period.end, order.grace_hours),
                    "traffic_limit_bytes": order.traffic_limit_bytes,
                    "anchor_day": period.anchor_day,
                },
            )
            if subscription is None:  # the other first order inserted it meanwhile
                subscription = await _locked(session, order.customer_id)
                assert subscription is not None
            else:
                order.subscription_id = subscription.subscription_id
                order.period_start, order.period_end = period.start, period.end
                return SubscriptionActivated(**_common(order, subscription))
        period = next_period(
            subscription.period_end,
            paid_at,
            term,
            # A suspended subscription is no longer served, whatever its grace said.
            served_until=subscription.access_until if subscription.stage == Stage.ACTIVE else None,
            anchor_day=subscription.anchor_day,
        )
        subscription.plan_id = order.plan_id
        subscription.period_start = period.start
        subscription.period_end = period.end
        subscription.access_until = access_until(period.end, order.grace_hours)
        subscription.stage = Stage.ACTIVE.value
        subscription.traffic_limit_bytes = order.traffic_limit_bytes
        subscription.anchor_day = period.anchor_day
        subscription.revision += 1
        subscription.updated_at = datetime.now(UTC)
        order.subscription_id = subscription.subscription_id
        order.period_start, order.period_end = period.start, period.end
    common = _common(order, subscription)
    if period.previous_end is None:
        return SubscriptionActivated(**common)
    return SubscriptionExtended(**common, previous_period_end=period.previous_end)


_FIRST = (
    insert(Subscription)
    .values(
        **bound(
            "subscription_id",
            "customer_id",
            "plan_id",
            "period_start",
            "period_end",
            "access_until",
            "traffic_limit_bytes",
            "anchor_day",
        ),
        revision=1,
        stage=Stage.ACTIVE.value,
    )
    .on_conflict_do_nothing(index_elements=[Subscription.customer_id])
    .returning(Subscription)
)
_LOCKED = (
    select(Subscription)
    .where(Subscription.customer_id == bindparam("customer_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


async def _locked(session: AsyncSession, customer_id: uuid.UUID) -> Subscription | None:
    subscription: Subscription | None = await session.scalar(_LOCKED, {"customer_id": customer_id})
    return subscription


def _common(order: Order, subscription: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": subscription.subscription_id,
        "customer_id": order.customer_id,
        "plan_id": order.plan_id,
        "order_id": order.order_id,
        "period_start": subscription.period_start,
        "period_end": subscription.period_end,
        "traffic_limit_bytes": order.traffic_limit_bytes,
        "revision": subscription.revision,
        "access_until": subscription.access_until,
        "traffic_carry_over": order.traffic_carry_over,
        "traffic_reset": order.traffic_reset,
    }


def _bought(order: Order) -> timedelta:
    """How long the order's period was: as it was applied, or (an order paid before
    periods were kept on it) its days."""
    if order.period_start is not None and order.period_end is not None:
        return order.period_end - order.period_start
    return timedelta(days=order.duration_days)


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
        bought=_bought(order),
        paid_minor=order.amount_minor,
        before_minor=before_minor,
        amount_minor=amount_minor,
    )
    if change is None:
        return subscription.period_end, None
    return change.period_end, _shortened(subscription, change, order.order_id, refund_id, now)


async def take_days(
    session: AsyncSession,
    customer_id: uuid.UUID,
    taken: timedelta,
    *,
    order_id: uuid.UUID,
    refund_id: uuid.UUID,
    now: datetime,
) -> SubscriptionShortened | None:
    """Take ``taken`` off the customer's end (days given and taken back), never before
    ``now``; None when there is nothing to take."""
    subscription = await _locked(session, customer_id)
    if subscription is None or subscription.period_end <= now:
        return None
    end = max(now, subscription.period_end - taken)
    change = rules.Shortening(
        period_end=end, previous_end=subscription.period_end, ended=end <= now
    )
    return _shortened(subscription, change, order_id, refund_id, now)


def _shortened(
    subscription: Subscription,
    change: rules.Shortening,
    order_id: uuid.UUID,
    refund_id: uuid.UUID,
    now: datetime,
) -> SubscriptionShortened:
    """Move the end as ``change`` says. A shortening that ends access ends it now, without
    a grace; another keeps the grace."""
    grace = subscription.access_until - subscription.period_end
    subscription.period_end = change.period_end
    subscription.access_until = change.period_end + (timedelta(0) if change.ended else grace)
    subscription.period_start = min(subscription.period_start, change.period_end)
    subscription.revision += 1
    subscription.updated_at = now
    return SubscriptionShortened(
        subscription_id=subscription.subscription_id,
        customer_id=subscription.customer_id,
        plan_id=subscription.plan_id,
        order_id=order_id,
        refund_id=refund_id,
        period_end=change.period_end,
        previous_period_end=change.previous_end,
        traffic_limit_bytes=subscription.traffic_limit_bytes,
        revision=subscription.revision,
        ended=change.ended,
        shortened_at=now,
        access_until=subscription.access_until,
    )
