"""The consumer of the promo codes customers type in the bot (``PromoCodeEntered``).

A code for a discount or extra traffic is accepted for the customer's next purchase (the
checkout takes its use, ``billing.checkout``); free days are added at once, as an order of
nothing paid that extends or starts the subscription like a payment does. The customer is
told either way, in their language, by the notifier.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import orders, promo_codes
from billing.catalog import sold_terms
from billing.domain.promos import Code, Refusal
from billing.models import Customer, PlanPrice, PlanRow, Subscription
from billing.payments import deliver
from billing.texts import localized
from chassis.clock import Clock, SystemClock
from chassis.messaging.consumer import MessageContext
from contracts.billing import PromoCodeChecked
from contracts.bot import PromoCodeEntered
from contracts.notifier import SendNotification

log = logging.getLogger(__name__)

_NAMESPACE: Final = uuid.UUID("6f1c2a9e-5d47-4b0e-8a3f-2c9d7e1b4a60")


class PromoEntries:
    """The consumer of ``PromoCodeEntered``: a code is accepted for the next purchase, or
    its free days are added at once, or it is refused; the customer is told either way."""

    def __init__(self, *, grace_hours: int, clock: Clock | None = None) -> None:
        self._grace_hours = grace_hours
        # Validity and free days by the platform's clock, the one due times fire by.
        self._clock = clock or SystemClock()

    async def entered(self, event: PromoCodeEntered, ctx: MessageContext) -> None:
        session, now = ctx.session, self._clock.now()
        found = await promo_codes.check(session, event.code, event.customer_id, now, lock=True)
        if isinstance(found, Refusal):
            log.info(
                "promo code refused",
                extra={"customer_id": str(event.customer_id), "reason": found.value},
            )
            await ctx.publish_many(_refused(event, found, now))
            return
        if found.at_purchase:
            checked = _checked(event, now, "accepted", offer=found.offer)
            told = _told(event, "promo.accepted", {**_params(found), "catalog_button": 1})
            await ctx.publish_many((checked, told))
            return
        await ctx.publish_many(await self._activate(session, event, found, now))

    async def _activate(
        self, session: AsyncSession, event: PromoCodeEntered, code: Code, now: datetime
    ) -> Sequence[Any]:
        """Free days, now: an order of nothing paid extends (or starts) the subscription."""
        assert code.free_days is not None
        subscription = await session.scalar(
            select(Subscription).where(Subscription.customer_id == event.customer_id)
        )
        plan_id = subscription.plan_id if subscription is not None else code.plan_ids[0]
        plan = await session.get(PlanRow, plan_id)
        terms: dict[str, Any] = (
            sold_terms(plan)
            if plan is not None
            else {"traffic_limit_bytes": subscription.traffic_limit_bytes if subscription else 0}
        )
        terms.update(duration_days=code.free_days, duration_months=0)
        if subscription is not None:
            terms["traffic_limit_bytes"] = subscription.traffic_limit_bytes
        currency = await session.scalar(
            select(PlanPrice.currency).where(PlanPrice.plan_id == plan_id).limit(1)
        )
        language = await session.scalar(
            select(Customer.language).where(Customer.customer_id == event.customer_id)
        )
        order = orders.complimentary(
            event.request_id,
            event.customer_id,
            provider=promo_codes.PROVIDER,
            plan_id=plan_id,
            title=localized(plan.titles, language) if plan else plan_id,
            language=language,
            currency=currency or "RUB",
            grace_hours=self._grace_hours,
            paid_at=now,
            promo_code=code.code,
            **terms,
        )
        session.add(order)
        await promo_codes.take(
            session, code, event.customer_id, order_id=order.order_id, status="used"
        )
        delivered = await deliver(session, order, now)
        period_end = order.period_end
        assert period_end is not None
        checked = _checked(event, now, "activated", offer=code.offer, period_end=period_end)
        told = _told(
            event, "promo.activated", {**_params(code), "expires_at": period_end.isoformat()}
        )
        return (*delivered, checked, told)


def _params(code: Code) -> dict[str, str | int]:
    """What the notifier's promo templates tell of a code."""
    params: dict[str, str | int] = {"code": code.code, "kind": code.kind}
    if code.percent_off is not None:
        params["percent_off"] = code.percent_off
    if code.amount_off is not None:
        params["amount_minor"] = code.amount_off.amount_minor
        params["currency"] = code.amount_off.currency
    if code.free_days is not None:
        params["free_days"] = code.free_days
    if code.extra_traffic_bytes is not None:
        params["traffic_limit_bytes"] = code.extra_traffic_bytes
    params["limited"] = "no" if code.valid_until is None else "yes"
    if code.valid_until is not None:
        params["valid_until_at"] = code.valid_until.isoformat()
    return params


def _checked(
    event: PromoCodeEntered,
    now: datetime,
    outcome: Literal["accepted", "activated", "refused"],
    **decided: Any,
) -> PromoCodeChecked:
    return PromoCodeChecked(
        request_id=event.request_id,
        customer_id=event.customer_id,
        code=event.code,
        outcome=outcome,
        checked_at=now,
        **decided,
    )


def _told(event: PromoCodeEntered, template: str, params: dict[str, str | int]) -> SendNotification:
    return SendNotification(
        notification_id=uuid.uuid5(_NAMESPACE, f"told:{event.request_id}"),
        customer_id=event.customer_id,
        template=template,
        params=params,
        channel="telegram",
    )


def _refused(
    event: PromoCodeEntered, refusal: Refusal, now: datetime
) -> tuple[PromoCodeChecked, SendNotification]:
    return (
        _checked(event, now, "refused", reason_code=refusal.value),
        _told(event, "promo.refused", {"code": event.code, "refusal": refusal.value}),
    )
