"""What the bot learns from other services about a customer's subscription and access."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from bot.models import CustomerSubscription
from chassis.messaging.consumer import MessageContext
from contracts.billing import SubscriptionActivated, SubscriptionExtended, SubscriptionShortened
from contracts.provisioning import AccessGranted

log = logging.getLogger(__name__)


async def record_subscription(
    event: SubscriptionActivated | SubscriptionExtended, ctx: MessageContext
) -> None:
    await _upsert_subscription(
        ctx,
        event.subscription_id,
        event.customer_id,
        {
            "plan_id": event.plan_id,
            "period_end": event.period_end,
            "traffic_limit_bytes": event.traffic_limit_bytes,
        },
        # A replayed older period must not shorten what the customer sees.
        newer_only=True,
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
        .values(period_end=event.period_end, updated_at=datetime.now(UTC))
    )


async def record_access(event: AccessGranted, ctx: MessageContext) -> None:
    # Access can be reported before the subscription event is read (different topics),
    # so it may create the row; the subscription event fills in the plan.
    await _upsert_subscription(
        ctx,
        event.subscription_id,
        event.customer_id,
        {
            "subscription_url": event.subscription_url,
            "access_expires_at": event.expires_at,
            "traffic_limit_bytes": event.traffic_limit_bytes,
        },
        defaults={"plan_id": "", "period_end": event.expires_at},
    )


async def _upsert_subscription(
    ctx: MessageContext,
    subscription_id: UUID,
    customer_id: UUID,
    changes: dict[str, Any],
    *,
    defaults: dict[str, Any] | None = None,
    newer_only: bool = False,
) -> None:
    """Insert the customer's subscription row, or set ``changes`` on the existing one."""
    changes = changes | {"updated_at": datetime.now(UTC)}
    statement = insert(CustomerSubscription).values(
        subscription_id=subscription_id,
        customer_id=customer_id,
        **(defaults or {}),
        **changes,
    )
    newer = CustomerSubscription.period_end <= statement.excluded.period_end
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=[CustomerSubscription.subscription_id],
            set_={name: statement.excluded[name] for name in changes},
            where=newer if newer_only else None,
        )
    )
