"""The life of a subscription after its sale: the reminders before and at its end.

Every change of a subscription's end (a paid period, a refund's shortening) schedules the
new end's reminders as due times (``chassis.timers``), in the transaction that changed it:
``expiring`` 72 and 24 hours before, and ``expired`` at the end. A timer is named by the
subscription and the end it is for, so a replay schedules nothing new; one for an end
that has since moved fires as nothing (the new end has its own). A customer whose autopay
will renew is not told to renew: autopay sends its own notice of the charge.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import Autopay, Subscription, timers
from chassis.timers import Timer, TimerHandler, Timers
from contracts.envelope import Event
from contracts.notifier import SendNotification

TIMERS: Final = Timers(timers)
REMINDER_HOURS: Final = (72, 24)
EXPIRING: Final = "subscription-expiring"
EXPIRED: Final = "subscription-expired"
_NAMESPACE: Final = uuid.UUID("c2b7e0a4-1d6f-4f8e-9a35-7b0d52e6f1c8")


async def schedule(session: AsyncSession, subscription_id: uuid.UUID, period_end: datetime) -> None:
    """The reminders of a subscription that now ends at ``period_end`` (one round trip: it
    runs with every paid plan order)."""
    end = period_end.isoformat()
    ours = {"subscription_id": str(subscription_id), "period_end": end}
    await TIMERS.schedule_many(
        session,
        [
            *(
                (
                    f"{EXPIRING}-{hours}h:{subscription_id}:{end}",
                    EXPIRING,
                    period_end - timedelta(hours=hours),
                    {**ours, "hours": hours},
                )
                for hours in REMINDER_HOURS
            ),
            (f"{EXPIRED}:{subscription_id}:{end}", EXPIRED, period_end, ours),
        ],
    )


async def _current(session: AsyncSession, timer: Timer) -> Subscription | None:
    """The subscription, if it still ends where the timer was set for."""
    subscription = await session.get(Subscription, uuid.UUID(timer.payload["subscription_id"]))
    if subscription is None:
        return None
    if subscription.period_end != datetime.fromisoformat(timer.payload["period_end"]):
        return None  # renewed or shortened since: the new end has its own timers
    return subscription


async def _renews_by_itself(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    enabled = await session.scalar(
        select(Autopay.enabled).where(Autopay.customer_id == customer_id)
    )
    return bool(enabled)


async def expiring(session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
    """ "Ends in N hours", with the hours actually left: a reminder fired late (after a
    downtime, or for an end a refund brought near) says the truth, and one overtaken by a
    nearer reminder is left to that one."""
    subscription = await _current(session, timer)
    if subscription is None or await _renews_by_itself(session, subscription.customer_id):
        return ()
    left = subscription.period_end - now
    nearer = [hours for hours in REMINDER_HOURS if hours < int(timer.payload["hours"])]
    if left <= timedelta(0) or (nearer and left <= timedelta(hours=max(nearer))):
        return ()
    hours_left = max(1, math.ceil(left.total_seconds() / 3600 - 0.25))
    return (_notification(subscription, timer, "subscription.expiring", hours=hours_left),)


async def expired(session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
    subscription = await _current(session, timer)
    if subscription is None:
        return ()
    return (_notification(subscription, timer, "subscription.expired"),)


def _notification(
    subscription: Subscription, timer: Timer, template: str, **params: str | int
) -> SendNotification:
    return SendNotification(
        notification_id=uuid.uuid5(_NAMESPACE, timer.timer_id),
        customer_id=subscription.customer_id,
        template=template,
        params={
            "expires_at": subscription.period_end.isoformat(),
            # A "Renew" button opens the checkout of the same plan.
            "renew_plan_id": subscription.plan_id,
            **params,
        },
        channel="telegram",
    )


HANDLERS: Final[dict[str, TimerHandler]] = {EXPIRING: expiring, EXPIRED: expired}
