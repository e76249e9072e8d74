"""The free trial: the consumer of the bot's requests, and its conversion to a payment.

Requests are decided one at a time (a transaction-scoped advisory lock), so the hourly
limit counts every trial started before, and a Telegram account is checked against the
trials table, whose unique index stands behind the check. A started trial is an order of
nothing paid on the trial "plan" (``billing.domain.trials.TRIAL_PLAN``), without a grace:
it runs through the same lifecycle as a paid period, its reminder offers the plans, and
the customer's first payment for a plan counts it converted.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing import orders
from billing.conversions import TRIALS
from billing.domain import trials as rules
from billing.domain.orders import COMPLIMENTARY
from billing.domain.trials import PROVIDER, TRIAL_PLAN, Applicant, Refusal, TrialTerms
from billing.models import Customer, Order, Subscription, Trial
from billing.payments import deliver
from billing.texts import say
from chassis.clock import Clock, SystemClock
from chassis.messaging.consumer import MessageContext
from contracts.billing import TrialDecided
from contracts.bot import TrialRequested
from contracts.notifier import SendNotification

log = logging.getLogger(__name__)

_LOCK: Final = 0x7472_6961  # "tria": one decision at a time, across replicas
_NAMESPACE: Final = uuid.UUID("0b8e3f51-9c2d-4a7e-b6f0-3d1c5a9e7b24")


class Trials:
    def __init__(self, terms: TrialTerms, clock: Clock | None = None) -> None:
        self._terms = terms
        # The trial starts by the platform's clock, the one its due times fire by.
        self._clock = clock or SystemClock()

    async def requested(self, event: TrialRequested, ctx: MessageContext) -> None:
        session, now = ctx.session, self._clock.now()
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        applicant = await _applicant(session, event, now)
        refusal = rules.refusal(self._terms, applicant)
        if refusal is not None:
            log.info(
                "trial refused",
                extra={"customer_id": str(event.customer_id), "reason": refusal.value},
            )
            TRIALS.labels(refusal.value).inc()
            await ctx.publish_many(_refused(event, refusal, now))
            return
        language = await session.scalar(
            select(Customer.language).where(Customer.customer_id == event.customer_id)
        )
        order = orders.complimentary(
            event.request_id,
            event.customer_id,
            provider=PROVIDER,
            plan_id=TRIAL_PLAN,
            title=say("trial-title", language, days=self._terms.days),
            language=language,
            currency="RUB",
            grace_hours=0,  # a trial ends when it ends
            paid_at=now,
            duration_days=self._terms.days,
            duration_months=0,
            traffic_limit_bytes=self._terms.traffic_limit_bytes,
            traffic_carry_over=False,
            traffic_reset="none",
        )
        session.add(order)
        delivered = await deliver(session, order, now)
        assert order.period_end is not None
        session.add(
            Trial(
                customer_id=event.customer_id,
                telegram_user_id=event.telegram_user_id,
                order_id=order.order_id,
                started_at=now,
                ends_at=order.period_end,
            )
        )
        TRIALS.labels("started").inc()
        log.info("trial started", extra={"customer_id": str(event.customer_id)})
        decided = TrialDecided(
            request_id=event.request_id,
            customer_id=event.customer_id,
            outcome="started",
            period_end=order.period_end,
            decided_at=now,
        )
        await ctx.publish_many((*delivered, decided))


async def _applicant(session: AsyncSession, event: TrialRequested, now: datetime) -> Applicant:
    had_trial = await session.scalar(
        select(
            exists().where(
                (Trial.telegram_user_id == event.telegram_user_id)
                | (Trial.customer_id == event.customer_id)
            )
        )
    )
    has_paid = await session.scalar(
        select(
            exists().where(
                Order.customer_id == event.customer_id,
                Order.paid_at.is_not(None),
                Order.provider.not_in(COMPLIMENTARY),
            )
        )
    )
    subscribed = await session.scalar(
        select(exists().where(Subscription.customer_id == event.customer_id))
    )
    started = await session.scalar(
        select(func.count()).select_from(Trial).where(Trial.started_at > now - timedelta(hours=1))
    )
    return Applicant(
        had_trial=bool(had_trial),
        has_paid=bool(has_paid),
        has_subscription=bool(subscribed),
        started_last_hour=int(started or 0),
    )


def _refused(
    event: TrialRequested, refusal: Refusal, now: datetime
) -> tuple[TrialDecided, SendNotification]:
    return (
        TrialDecided(
            request_id=event.request_id,
            customer_id=event.customer_id,
            outcome="refused",
            reason_code=refusal.value,
            decided_at=now,
        ),
        SendNotification(
            notification_id=uuid.uuid5(_NAMESPACE, f"refused:{event.request_id}"),
            customer_id=event.customer_id,
            template="trial.refused",
            params={"refusal": refusal.value, "catalog_button": 1},
            channel="telegram",
        ),
    )
