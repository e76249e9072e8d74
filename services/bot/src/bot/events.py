"""What the bot learns from other services about a customer's subscription and access."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import text, update

from bot.models import CustomerSubscription
from chassis.messaging.consumer import MessageContext
from contracts.billing import (
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionPlanChanged,
    SubscriptionRemoved,
    SubscriptionShortened,
    SubscriptionSuspended,
)
from contracts.provisioning import (
    AccessGranted,
    AccessLinkIssued,
    AccessStatusChanged,
    UsageReported,
)

log = logging.getLogger(__name__)


# Both statements are built once: building an upsert per event costs more CPU than
# PostgreSQL spends running it.
_SUBSCRIPTION = text(
    """
    INSERT INTO customer_subscriptions AS s
        (subscription_id, customer_id, plan_id, period_end, access_until, stage,
         traffic_limit_bytes, updated_at)
    VALUES (:subscription_id, :customer_id, :plan_id, :period_end, :access_until, 'active',
            :traffic_limit_bytes, now())
    ON CONFLICT (subscription_id) DO UPDATE
    SET plan_id = EXCLUDED.plan_id, period_end = EXCLUDED.period_end,
        access_until = EXCLUDED.access_until, stage = 'active',
        traffic_limit_bytes = EXCLUDED.traffic_limit_bytes, updated_at = now()
    -- A replayed older period must not shorten what the customer sees.
    WHERE s.period_end <= EXCLUDED.period_end
    """
)
# Access can be reported before the subscription event is read (different topics), so it
# may create the row; the subscription event fills in the plan.
_ACCESS = text(
    """
    INSERT INTO customer_subscriptions AS s
        (subscription_id, customer_id, plan_id, period_end, traffic_limit_bytes,
         subscription_url, access_expires_at, access_status, stage, region, protocol,
         updated_at)
    VALUES (:subscription_id, :customer_id, '', :paid_until, :traffic_limit_bytes,
            :subscription_url, :expires_at, 'active', 'active', :region, :protocol, now())
    ON CONFLICT (subscription_id) DO UPDATE
    SET subscription_url = EXCLUDED.subscription_url,
        access_expires_at = EXCLUDED.access_expires_at,
        traffic_limit_bytes = EXCLUDED.traffic_limit_bytes, access_status = 'active',
        region = EXCLUDED.region, protocol = EXCLUDED.protocol, updated_at = now()
    """
)


async def record_subscription(
    event: SubscriptionActivated | SubscriptionExtended | SubscriptionPlanChanged,
    ctx: MessageContext,
) -> None:
    await ctx.session.execute(
        _SUBSCRIPTION,
        {
            "subscription_id": event.subscription_id,
            "customer_id": event.customer_id,
            "plan_id": event.plan_id,
            "period_end": event.period_end,
            "access_until": event.access_until or event.period_end,
            "traffic_limit_bytes": event.traffic_limit_bytes,
        },
    )


async def record_stage(
    event: SubscriptionSuspended | SubscriptionRemoved, ctx: MessageContext
) -> None:
    """Suspended (cut off, the link kept) or removed (the link gone) after an unpaid end.
    Only about the end the bot shows: one that a payment has since moved changes nothing."""
    removed = isinstance(event, SubscriptionRemoved)
    values: dict[str, object] = {"stage": "removed" if removed else "suspended"}
    if removed:
        values["subscription_url"] = None
    await ctx.session.execute(
        update(CustomerSubscription)
        .where(
            CustomerSubscription.subscription_id == event.subscription_id,
            CustomerSubscription.period_end == event.period_end,
        )
        .values(**values, updated_at=datetime.now(UTC))
    )


async def record_shortening(event: SubscriptionShortened, ctx: MessageContext) -> None:
    """A refund took back part of the period: "My subscription" shows the new end."""
    await ctx.session.execute(
        update(CustomerSubscription)
        .where(
            CustomerSubscription.subscription_id == event.subscription_id,
            # Only a shortening of the end the bot shows; a redelivered one changes nothing.
            CustomerSubscription.period_end > event.period_end,
        )
        .values(
            period_end=event.period_end,
            access_until=event.access_until or event.period_end,
            updated_at=datetime.now(UTC),
        )
    )


async def record_access(event: AccessGranted, ctx: MessageContext) -> None:
    await ctx.session.execute(
        _ACCESS,
        {
            "subscription_id": event.subscription_id,
            "customer_id": event.customer_id,
            "expires_at": event.expires_at,
            "paid_until": event.paid_until or event.expires_at,
            "traffic_limit_bytes": event.traffic_limit_bytes,
            # The stable link, where the platform has one: it outlives this panel user.
            "subscription_url": event.stable_url or event.subscription_url,
            "region": event.region,
            "protocol": event.protocol,
        },
    )


async def record_link(event: AccessLinkIssued, ctx: MessageContext) -> None:
    """A revoked link replaced: "My subscription" shows the new one wherever it showed a
    link. (A first link arrives with the access itself.)"""
    if not event.replaced or event.stable_url is None:
        return
    await ctx.session.execute(
        update(CustomerSubscription)
        .where(
            CustomerSubscription.customer_id == event.customer_id,
            CustomerSubscription.subscription_url.is_not(None),
        )
        .values(subscription_url=event.stable_url, updated_at=datetime.now(UTC))
    )


async def record_access_status(event: AccessStatusChanged, ctx: MessageContext) -> None:
    """The panel limited, expired or disabled the user by itself (or made it usable again):
    "My subscription" shows what the customer actually has. Grants and status changes of
    one subscription arrive in order (one partition), so the last one read is the state."""
    await ctx.session.execute(
        update(CustomerSubscription)
        .where(CustomerSubscription.subscription_id == event.subscription_id)
        .values(access_status=event.status, updated_at=datetime.now(UTC))
    )


# A page of a panel's users in one statement; a report older than the one kept (from the
# panel a subscription left) changes nothing.
_USAGE = text(
    """
    INSERT INTO traffic_usages AS u (subscription_id, used_bytes, limit_bytes, observed_at)
    SELECT * FROM unnest(CAST(:subscriptions AS uuid[]), CAST(:used AS bigint[]),
                         CAST(:limits AS bigint[]), CAST(:observed AS timestamptz[]))
    ON CONFLICT (subscription_id) DO UPDATE
    SET used_bytes = EXCLUDED.used_bytes, limit_bytes = EXCLUDED.limit_bytes,
        observed_at = EXCLUDED.observed_at
    WHERE u.observed_at < EXCLUDED.observed_at
    """
)


async def record_usage(event: UsageReported, ctx: MessageContext) -> None:
    """Traffic used, for "My subscription"."""
    await ctx.session.execute(
        _USAGE,
        {
            "subscriptions": [usage.subscription_id for usage in event.usages],
            "used": [usage.used_traffic_bytes for usage in event.usages],
            "limits": [usage.traffic_limit_bytes for usage in event.usages],
            "observed": [usage.observed_at for usage in event.usages],
        },
    )
