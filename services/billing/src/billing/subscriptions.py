"""Subscriptions' SQL: a paid plan order starts or extends the customer's subscription (a
renewal, an upgrade or a downgrade); a refund of one shortens it; the due times after its
end suspend and remove it, and apply a downgrade at its time; provisioning tells the
region of its access. Each change of its end marks the customer's segments due
(``billing.segments``)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing import segments
from billing.domain import refunds as rules
from billing.domain.lifecycle import Stage, access_until
from billing.domain.orders import COMPLIMENTARY, OrderKind, OrderStatus
from billing.domain.periods import Term, next_period
from billing.domain.plan_changes import Ahead, Change, change_of, daily
from billing.domain.plan_changes import credit as plan_credit
from billing.models import Order, PlanPrice, Subscription
from chassis.db import bound
from chassis.messaging.consumer import MessageContext
from contracts.billing import (
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionPlanChanged,
    SubscriptionShortened,
    SubscriptionTrafficAdded,
)
from contracts.money import Money
from contracts.provisioning import AccessGranted

log = logging.getLogger(__name__)


async def extend_for(
    session: AsyncSession, order: Order, paid_at: datetime
) -> SubscriptionActivated | SubscriptionExtended | SubscriptionPlanChanged:
    """Add the order's period to the customer's subscription (creating it if there is none):
    a renewal, an upgrade or a downgrade (``billing.domain.plan_changes``).

    The subscription row is locked, so two orders paid at once extend one after the other;
    two first orders at once meet at the insert, and the second extends what the first made.
    """
    assert order.plan_id is not None
    term = Term.of(days=order.duration_days, months=order.duration_months)
    # The order's own changes are flushed once, with the subscription id, at the end.
    with session.no_autoflush:
        subscription = await _locked(session, order.customer_id)
        # A plan paid and the end moved: after the subscription's lock, in the order every
        # writer of both rows takes them.
        await segments.facts_changed(session, order.customer_id)
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
                    "tier": _tier(order),
                    "traffic_carry_over": _carries(order),
                    "traffic_reset": order.traffic_reset or "none",
                },
            )
            if subscription is None:  # the other first order inserted it meanwhile
                subscription = await _locked(session, order.customer_id)
                assert subscription is not None
            else:
                order.subscription_id = subscription.subscription_id
                order.period_start, order.period_end = period.start, period.end
                return SubscriptionActivated(
                    **_common(order, subscription), region=order.region, protocol=order.protocol
                )
        change = change_of(
            subscription.tier,
            _tier(order),
            time_ahead=subscription.stage == Stage.ACTIVE and subscription.period_end > paid_at,
        )
        if order.provider in COMPLIMENTARY:
            change = Change.RENEWAL  # time given is added as it is, at no tier
        if change is Change.UPGRADE:
            return await _upgrade(session, subscription, order, term, paid_at)
        if change is Change.DOWNGRADE:
            return _downgrade(subscription, order, term, paid_at)
        period = next_period(
            subscription.period_end,
            paid_at,
            term,
            # A suspended subscription is no longer served, whatever its grace said.
            served_until=subscription.access_until if subscription.stage == Stage.ACTIVE else None,
            anchor_day=subscription.anchor_day,
        )
        given = order.provider in COMPLIMENTARY
        _take_terms(subscription, order, tier=subscription.tier if given else None)
        subscription.period_start = period.start
        subscription.period_end = period.end
        subscription.access_until = access_until(period.end, order.grace_hours)
        subscription.stage = Stage.ACTIVE.value
        subscription.anchor_day = period.anchor_day
        # Renewed at the current tier: a downgrade paid before is not taken after all.
        subscription.pending_order_id = subscription.pending_from = None
        subscription.revision += 1
        subscription.updated_at = datetime.now(UTC)
        order.subscription_id = subscription.subscription_id
        order.period_start, order.period_end = period.start, period.end
    common = _common(order, subscription)
    if period.previous_end is None:
        return SubscriptionActivated(**common, region=order.region, protocol=order.protocol)
    return SubscriptionExtended(**common, previous_period_end=period.previous_end)


def _take_terms(subscription: Subscription, order: Order, *, tier: int | None = None) -> None:
    """The subscription is at the order's plan from now on (at ``tier``: time given free
    keeps the one it has)."""
    assert order.plan_id is not None
    subscription.plan_id = order.plan_id
    subscription.tier = _tier(order) if tier is None else tier
    subscription.traffic_limit_bytes = order.traffic_limit_bytes
    subscription.traffic_carry_over = _carries(order)
    subscription.traffic_reset = order.traffic_reset or "none"
    # A new allowance: what was left of packs bought for the old one is carried as the
    # plan's rule says, like the rest of it.
    subscription.extra_traffic_bytes = 0


def _tier(order: Order) -> int:
    """The order's tier; one built in this transaction has no column default yet."""
    return order.tier or 0


def _carries(order: Order) -> bool:
    return True if order.traffic_carry_over is None else order.traffic_carry_over


async def _upgrade(
    session: AsyncSession, subscription: Subscription, order: Order, term: Term, paid_at: datetime
) -> SubscriptionPlanChanged:
    """The higher plan starts now; what is left of the time bought before is credited on it
    at its price (``billing.domain.plan_changes.credit``)."""
    ahead = await _ahead(session, subscription.subscription_id, paid_at)
    credit = plan_credit(ahead, paid_at, await _daily_prices(session, order))
    period = next_period(None, paid_at, term)
    previous_plan = subscription.plan_id
    _take_terms(subscription, order)
    subscription.period_start = paid_at
    subscription.period_end = period.end + credit
    subscription.access_until = access_until(subscription.period_end, order.grace_hours)
    subscription.anchor_day = period.anchor_day
    subscription.pending_order_id = subscription.pending_from = None
    subscription.revision += 1
    subscription.updated_at = datetime.now(UTC)
    order.subscription_id = subscription.subscription_id
    # What the order itself bought is its plan's length (a refund takes back a share of
    # it); the credit before it was bought earlier.
    order.period_start, order.period_end = paid_at + credit, subscription.period_end
    return SubscriptionPlanChanged(
        **_common(order, subscription),
        previous_plan_id=previous_plan,
        change="upgrade",
        credit_hours=int(credit.total_seconds() // 3600),
        changed_at=paid_at,
    )


def _downgrade(
    subscription: Subscription, order: Order, term: Term, paid_at: datetime
) -> SubscriptionExtended:
    """The time is added after the current end, at the current plan's terms until then;
    the lower plan applies from there (``billing.lifecycle``, its due time). Of two
    downgrades paid before the first applies, the first's plan is the one taken."""
    period = next_period(subscription.period_end, paid_at, term, anchor_day=subscription.anchor_day)
    assert period.previous_end is not None
    if subscription.pending_order_id is None:
        subscription.pending_order_id = order.order_id
        subscription.pending_from = period.previous_end
    subscription.period_end = period.end
    subscription.access_until = access_until(period.end, order.grace_hours)
    subscription.anchor_day = period.anchor_day
    subscription.revision += 1
    subscription.updated_at = datetime.now(UTC)
    order.subscription_id = subscription.subscription_id
    order.period_start, order.period_end = period.start, period.end
    return SubscriptionExtended(
        subscription_id=subscription.subscription_id,
        customer_id=subscription.customer_id,
        order_id=order.order_id,
        # The current plan's terms: they go on until the pending plan applies.
        plan_id=subscription.plan_id,
        traffic_limit_bytes=subscription.traffic_limit_bytes,
        traffic_carry_over=subscription.traffic_carry_over,
        traffic_reset=subscription.traffic_reset,
        period_start=period.start,
        period_end=period.end,
        previous_period_end=period.previous_end,
        revision=subscription.revision,
        access_until=subscription.access_until,
        next_plan_id=order.plan_id,
    )


async def add_traffic(
    session: AsyncSession, order: Order, now: datetime
) -> SubscriptionTrafficAdded | None:
    """A paid traffic pack: its traffic is added to the current allowance. None when the
    customer has no subscription (the checkout refused that; nothing to add it to)."""
    subscription = await _locked(session, order.customer_id)
    if subscription is None:
        return None
    if subscription.period_end <= now:
        log.warning(
            "traffic paid for a subscription that has ended meanwhile; added to its allowance",
            extra={"order_id": str(order.order_id)},
        )
    subscription.extra_traffic_bytes += order.traffic_limit_bytes
    subscription.revision += 1
    subscription.updated_at = now
    order.subscription_id = subscription.subscription_id
    return SubscriptionTrafficAdded(
        subscription_id=subscription.subscription_id,
        customer_id=subscription.customer_id,
        order_id=order.order_id,
        added_bytes=order.traffic_limit_bytes,
        extra_traffic_bytes=subscription.extra_traffic_bytes,
        traffic_limit_bytes=subscription.traffic_limit_bytes,
        period_end=subscription.period_end,
        revision=subscription.revision,
        added_at=now,
    )


def apply_pending(
    subscription: Subscription, order: Order, now: datetime
) -> SubscriptionPlanChanged:
    """The downgrade paid for earlier applies: the subscription is at its plan from the end
    of the time paid at the old one (``pending_from``) until its end."""
    assert subscription.pending_from is not None
    previous_plan = subscription.plan_id
    _take_terms(subscription, order)
    subscription.period_start = subscription.pending_from
    subscription.pending_order_id = subscription.pending_from = None
    subscription.revision += 1
    subscription.updated_at = now
    return SubscriptionPlanChanged(
        **_common(order, subscription),
        previous_plan_id=previous_plan,
        change="downgrade",
        changed_at=now,
    )


async def _ahead(session: AsyncSession, subscription_id: uuid.UUID, now: datetime) -> list[Ahead]:
    """The periods bought for the subscription that are not over at ``now``, each with what
    it was worth: paid (net of refunds), or None for time given free (kept as time)."""
    rows = await session.execute(
        select(
            Order.period_start,
            Order.period_end,
            Order.provider,
            Order.amount_minor,
            Order.refunded_minor,
            Order.currency,
        ).where(
            Order.subscription_id == subscription_id,
            Order.kind == OrderKind.PLAN.value,
            Order.status == OrderStatus.PAID.value,
            Order.period_end > now,
        )
    )
    return [
        Ahead(
            start,
            end,
            None
            if provider in COMPLIMENTARY
            else Money(amount_minor=amount - refunded, currency=currency),
        )
        for start, end, provider, amount, refunded, currency in rows.tuples()
        if start is not None and end is not None
    ]


async def _daily_prices(session: AsyncSession, order: Order) -> dict[str, Decimal]:
    """The upgrade's plan per day in each currency it has: the order's own price (before a
    code's discount) in its currency, the plan's list prices in the others."""
    prices = dict(
        (
            await session.execute(
                select(PlanPrice.currency, PlanPrice.amount_minor).where(
                    PlanPrice.plan_id == order.plan_id
                )
            )
        )
        .tuples()
        .all()
    )
    prices[order.currency] = order.list_amount_minor or order.amount_minor
    return {
        currency: daily(Money(amount_minor=amount, currency=currency), order.duration_days)
        for currency, amount in prices.items()
        if amount > 0
    }


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
            "tier",
            "traffic_carry_over",
            "traffic_reset",
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
    await segments.facts_changed(session, subscription.customer_id)
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
    await segments.facts_changed(session, customer_id)
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


# One statement for a batch of grants, which as a rule changes nothing: provisioning grants
# access with every paid period, and a region changes rarely. The subscriptions are locked
# before their customers' segments, in the order every writer of both takes them.
_REGIONS_MOVED = text(
    """
    WITH granted AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:regions AS text[]))
            AS g(subscription_id, region)
    ), moved AS (
        UPDATE subscriptions s SET region = g.region
        FROM granted g
        WHERE s.subscription_id = g.subscription_id AND s.region IS DISTINCT FROM g.region
        RETURNING s.customer_id
    )
    UPDATE customer_segments
    SET next_change_at = LEAST(next_change_at, now() + CAST(:settle AS interval))
    WHERE customer_id IN (SELECT customer_id FROM moved)
    """
)


async def record_regions(granted: list[tuple[AccessGranted, MessageContext]]) -> None:
    """Where each subscription's access is now, for its customer's segments (the last grant
    of a subscription in the batch is its latest)."""
    latest = {event.subscription_id: event.region for event, _ in granted}
    ids = sorted(latest)
    await granted[0][1].session.execute(
        _REGIONS_MOVED,
        {"ids": ids, "regions": [latest[i] for i in ids], "settle": segments.SETTLE},
    )
