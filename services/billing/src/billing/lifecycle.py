"""The life of a subscription after its sale: the reminders before its end, and the
suspension and removal after it (``billing.domain.lifecycle``).

Every change of a subscription's end (a paid period, a refund's shortening) schedules the
new end's due times (``chassis.timers``), in the transaction that changed it:
``expiring`` 72 and 24 hours before, ``expired`` at the end, and ``suspend`` when the
grace after it is over. The suspension schedules the removal, after the retention. A
timer is named by the subscription and the end it is for, so a replay schedules nothing
new; one for an end that has since moved fires as nothing (the new end has its own). A
customer whose autopay will renew is not told to renew: autopay sends its own notice.

A downgrade paid for schedules its plan's start at the end of the time paid at the old
plan (``plan-change``); a renewal or an upgrade since leaves it firing as nothing.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import segments
from billing.domain.lifecycle import Stage, Status, Terms, status_at
from billing.domain.orders import OrderStatus
from billing.domain.trials import TRIAL_PLAN
from billing.models import Autopay, Order, Subscription, timers
from billing.subscriptions import apply_pending
from chassis.timers import Timer, TimerHandler, Timers
from contracts.billing import SubscriptionRemoved, SubscriptionSuspended
from contracts.envelope import Event
from contracts.notifier import SendNotification

TIMERS: Final = Timers(timers)
REMINDER_HOURS: Final = (72, 24)
EXPIRING: Final = "subscription-expiring"
EXPIRED: Final = "subscription-expired"
SUSPEND: Final = "subscription-suspend"
REMOVE: Final = "subscription-remove"
PLAN_CHANGE: Final = "subscription-plan-change"
REFERRAL: Final = "referral-reward"
_NAMESPACE: Final = uuid.UUID("c2b7e0a4-1d6f-4f8e-9a35-7b0d52e6f1c8")
# A reminder due within a period's first hour would greet its start.
_SETTLED: Final = timedelta(hours=1)


async def schedule(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    period_end: datetime,
    access_until: datetime,
) -> None:
    """The due times of a subscription that now ends at ``period_end`` and is served until
    ``access_until`` (one round trip: it runs with every paid plan order)."""
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
            (f"{SUSPEND}:{subscription_id}:{end}", SUSPEND, access_until, ours),
        ],
    )


async def schedule_cut_off(
    session: AsyncSession, subscription_id: uuid.UUID, period_end: datetime
) -> None:
    """A refund ended access now: the subscription is suspended at once, without a message
    (the customer hears of the refund), and removed after the retention."""
    end = period_end.isoformat()
    await TIMERS.schedule(
        session,
        f"{SUSPEND}:{subscription_id}:{end}",
        SUSPEND,
        period_end,
        {"subscription_id": str(subscription_id), "period_end": end, "quiet": True},
    )


async def schedule_plan_change(
    session: AsyncSession, subscription_id: uuid.UUID, at: datetime
) -> None:
    """A downgrade's plan starts at ``at``: the subscription's pending order applies then."""
    moment = at.isoformat()
    await TIMERS.schedule(
        session,
        f"{PLAN_CHANGE}:{subscription_id}:{moment}",
        PLAN_CHANGE,
        at,
        {"subscription_id": str(subscription_id), "pending_from": moment},
    )


async def schedule_referral(session: AsyncSession, order_id: uuid.UUID, at: datetime) -> None:
    """A newcomer who came by a referral link paid for a plan: whether it rewards the
    referrer is decided when this fires (``billing.referrals``), outside the payment."""
    await TIMERS.schedule(
        session, f"{REFERRAL}:{order_id}", REFERRAL, at, {"order_id": str(order_id)}
    )


def plan_notice(
    customer_id: uuid.UUID, template: str, once_per: str, **params: str | int
) -> SendNotification:
    """A message about the customer's plan changing (``subscription.upgraded``,
    ``subscription.downgrade_scheduled``, ``subscription.plan_changed``)."""
    return SendNotification(
        notification_id=uuid.uuid5(_NAMESPACE, f"{template}:{once_per}"),
        customer_id=customer_id,
        template=template,
        params=params,
        channel="telegram",
    )


_LOCKED: Final = (
    select(Subscription)
    .where(Subscription.subscription_id == bindparam("subscription_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


async def _current(
    session: AsyncSession, timer: Timer, *, lock: bool = False
) -> Subscription | None:
    """The subscription, if it still ends where the timer was set for."""
    subscription_id = uuid.UUID(timer.payload["subscription_id"])
    subscription = (
        await session.scalar(_LOCKED, {"subscription_id": subscription_id})
        if lock
        else await session.get(Subscription, subscription_id)
    )
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


class Lifecycle:
    """The due times' handlers, under the operator's terms."""

    def __init__(self, terms: Terms) -> None:
        self._terms = terms

    @property
    def handlers(self) -> dict[str, TimerHandler]:
        return {
            EXPIRING: self.expiring,
            EXPIRED: self.expired,
            SUSPEND: self.suspend,
            REMOVE: self.remove,
            PLAN_CHANGE: self.plan_change,
        }

    async def expiring(self, session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
        """ "Ends in N hours", with the hours actually left: a reminder fired late (after a
        downtime, or for an end a refund brought near) says the truth, and one overtaken by
        a nearer reminder is left to that one."""
        subscription = await _current(session, timer)
        if subscription is None or await _renews_by_itself(session, subscription.customer_id):
            return ()
        left = subscription.period_end - now
        hours = int(timer.payload["hours"])
        nearer = [nearer for nearer in REMINDER_HOURS if nearer < hours]
        if left <= timedelta(0) or (nearer and left <= timedelta(hours=max(nearer))):
            return ()
        if subscription.period_end - timedelta(hours=hours) < subscription.period_start + _SETTLED:
            return ()  # a period no longer than the reminder (a trial): not at its start
        hours_left = max(1, math.ceil(left.total_seconds() / 3600 - 0.25))
        return (_notification(subscription, timer, "subscription.expiring", hours=hours_left),)

    async def expired(self, session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
        """ "Your subscription ended; you are served until <the grace's end>". Without a
        grace (or fired after it) the suspension's message says it all."""
        subscription = await _current(session, timer)
        if subscription is None or self._status(subscription, now) is not Status.EXPIRED:
            return ()
        return (_notification(subscription, timer, "subscription.expired"),)

    def _status(self, subscription: Subscription, now: datetime) -> Status:
        return status_at(
            period_end=subscription.period_end,
            access_until=subscription.access_until,
            stage=Stage(subscription.stage),
            now=now,
            terms=self._terms,
        )

    async def suspend(self, session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
        """The grace is over unpaid: the panel user is disabled (kept, with its link), and
        removed after the retention unless the customer pays first."""
        subscription = await _current(session, timer, lock=True)
        if subscription is None or subscription.stage != Stage.ACTIVE:
            return ()
        remove_at = self._terms.remove_at(now)
        subscription.stage = Stage.SUSPENDED.value
        subscription.revision += 1
        subscription.updated_at = now
        end = subscription.period_end.isoformat()
        await TIMERS.schedule(
            session,
            f"{REMOVE}:{subscription.subscription_id}:{end}",
            REMOVE,
            remove_at,
            {"subscription_id": str(subscription.subscription_id), "period_end": end},
        )
        suspended = SubscriptionSuspended(
            subscription_id=subscription.subscription_id,
            customer_id=subscription.customer_id,
            plan_id=subscription.plan_id,
            period_end=subscription.period_end,
            revision=subscription.revision,
            suspended_at=now,
            remove_at=remove_at,
        )
        if timer.payload.get("quiet"):
            return (suspended,)
        return (suspended, _notification(subscription, timer, "subscription.suspended"))

    async def remove(self, session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
        """The retention is over: the panel user goes; billing keeps the subscription."""
        subscription = await _current(session, timer, lock=True)
        if subscription is None or subscription.stage != Stage.SUSPENDED:
            return ()
        subscription.stage = Stage.REMOVED.value
        subscription.revision += 1
        subscription.updated_at = now
        return (
            SubscriptionRemoved(
                subscription_id=subscription.subscription_id,
                customer_id=subscription.customer_id,
                plan_id=subscription.plan_id,
                period_end=subscription.period_end,
                revision=subscription.revision,
                removed_at=now,
            ),
        )

    async def plan_change(
        self, session: AsyncSession, timer: Timer, now: datetime
    ) -> Sequence[Event]:
        """The time paid at the old plan is over: the downgrade's plan applies, with a new
        allowance of its traffic. One renewed or upgraded since has nothing pending."""
        subscription_id = uuid.UUID(timer.payload["subscription_id"])
        subscription = await session.scalar(_LOCKED, {"subscription_id": subscription_id})
        if (
            subscription is None
            or subscription.pending_order_id is None
            or subscription.pending_from != datetime.fromisoformat(timer.payload["pending_from"])
        ):
            return ()
        order = await session.get(Order, subscription.pending_order_id)
        if order is None or order.status != OrderStatus.PAID:
            # Refunded meanwhile: the customer stays on the plan they have.
            subscription.pending_order_id = subscription.pending_from = None
            return ()
        changed = apply_pending(subscription, order, now)
        await segments.facts_changed(session, subscription.customer_id)
        told = plan_notice(
            subscription.customer_id,
            "subscription.plan_changed",
            str(order.order_id),
            plan=order.title,
            expires_at=subscription.period_end.isoformat(),
            traffic_limit_bytes=subscription.traffic_limit_bytes,
        )
        return (changed, told)


def _notification(
    subscription: Subscription, timer: Timer, template: str, **params: str | int
) -> SendNotification:
    trial = subscription.plan_id == TRIAL_PLAN
    return SendNotification(
        notification_id=uuid.uuid5(_NAMESPACE, timer.timer_id),
        customer_id=subscription.customer_id,
        # A trial's end is an offer: its own words, and the plans to choose from.
        template=_TRIAL_TEMPLATES.get(template, template) if trial else template,
        params={
            "expires_at": subscription.period_end.isoformat(),
            "access_until_at": subscription.access_until.isoformat(),
            # A "Renew" button opens the checkout of the same plan; after a trial, the plans.
            **({"catalog_button": 1} if trial else {"renew_plan_id": subscription.plan_id}),
            **params,
        },
        channel="telegram",
    )


_TRIAL_TEMPLATES: Final = {
    "subscription.expiring": "trial.expiring",
    "subscription.suspended": "trial.ended",
}
