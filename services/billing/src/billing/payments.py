"""Payment notifications: verified with YooKassa, then an order is paid or canceled.

Nothing in a notification body is believed. The payment is fetched from YooKassa by id
and only the API's status, amount and metadata count; the sender's address is checked
against YooKassa's networks where that is switched on (production).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from billing.models import Order, PaymentCheck, Subscription
from billing.subscriptions import next_period
from billing.yookassa import (
    PaymentNotFound,
    YooKassaClient,
    YooKassaError,
    YooKassaPayment,
    YooKassaRejected,
    YooKassaUnavailable,
    is_notification_source,
)
from chassis.messaging.consumer import MessageContext, RetryLater
from contracts.billing import (
    PaymentCanceled,
    PaymentSucceeded,
    SubscriptionActivated,
    SubscriptionExtended,
)
from contracts.gateway import PaymentNotificationReceived
from contracts.money import Money

log = logging.getLogger(__name__)

NOTIFICATIONS = Counter(
    "payment_notifications_total",
    "Payment notifications billing verified, by provider and verdict "
    "(paid, canceled, duplicate, not_final, rejected_*): alert on a wave of rejections",
    ["provider", "outcome"],
)
ACCEPTED = frozenset({"paid", "canceled", "duplicate"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a notification turned out to be, recorded in ``payment_checks``."""

    outcome: str
    detail: str | None = None
    verified_status: str | None = None


class PaymentNotifications:
    def __init__(self, yookassa: YooKassaClient, *, check_source_address: bool) -> None:
        self._yookassa = yookassa
        self._check_source_address = check_source_address

    async def handle(self, notification: PaymentNotificationReceived, ctx: MessageContext) -> None:
        verdict = await self._handle(notification, ctx)
        accepted = verdict.outcome in ACCEPTED
        if not accepted:
            ctx.outcome = "rejected"
        NOTIFICATIONS.labels(notification.provider, verdict.outcome).inc()
        level = logging.INFO if accepted else logging.WARNING
        log.log(
            level,
            "payment notification %s",
            verdict.outcome,
            extra={
                "provider_payment_id": notification.provider_payment_id,
                "outcome": verdict.outcome,
                "detail": verdict.detail,
                "remote_address": str(notification.remote_address),
            },
        )
        body_event = notification.body.get("event")
        ctx.session.add(
            PaymentCheck(
                event_id=ctx.envelope.id,
                provider=notification.provider,
                provider_payment_id=notification.provider_payment_id[:128],
                claimed_event=str(body_event)[:64] if body_event is not None else None,
                verified_status=verdict.verified_status,
                outcome=verdict.outcome,
                detail=verdict.detail,
                remote_address=str(notification.remote_address),
            )
        )

    async def _handle(
        self, notification: PaymentNotificationReceived, ctx: MessageContext
    ) -> Verdict:
        if notification.provider != "yookassa":
            return Verdict("rejected_provider", f"no provider {notification.provider} configured")
        if self._check_source_address and not is_notification_source(
            str(notification.remote_address)
        ):
            return Verdict("rejected_source", "sender is not in YooKassa's networks")
        try:
            payment = await self._yookassa.get_payment(notification.provider_payment_id)
        except PaymentNotFound:
            return Verdict("rejected_unknown_payment", "YooKassa has no such payment")
        except YooKassaUnavailable as exc:
            raise RetryLater(f"YooKassa unavailable while verifying: {exc}") from exc
        except YooKassaRejected as exc:
            return Verdict("rejected_by_provider", str(exc))
        except YooKassaError as exc:
            raise RetryLater(f"YooKassa answered nonsense while verifying: {exc}") from exc

        order = await self._order_of(ctx, payment)
        if order is None:
            return Verdict("rejected_unknown_order", "no order for this payment", payment.status)
        if payment.amount != Money(amount_minor=order.amount_minor, currency=order.currency):
            return Verdict(
                "rejected_amount_mismatch",
                f"paid {payment.amount}, order is {order.amount_minor} {order.currency}",
                payment.status,
            )
        if payment.status == "succeeded":
            return await self._paid(ctx, order, payment)
        if payment.status == "canceled":
            return await self._canceled(ctx, order, payment)
        return Verdict("not_final", f"payment is {payment.status}", payment.status)

    async def _order_of(self, ctx: MessageContext, payment: YooKassaPayment) -> Order | None:
        order = await ctx.session.scalar(
            select(Order).where(Order.provider_payment_id == payment.id).with_for_update()
        )
        if order is not None:
            return order
        # A checkout that timed out may have created the payment without learning its id;
        # the verified metadata still names the order.
        try:
            order_id = uuid.UUID(payment.metadata.get("order_id", ""))
        except ValueError:
            return None
        order = await ctx.session.get(Order, order_id, with_for_update=True)
        if order is not None and order.provider_payment_id is None:
            order.provider_payment_id = payment.id
        return order if order is not None and order.provider_payment_id == payment.id else None

    async def _paid(self, ctx: MessageContext, order: Order, payment: YooKassaPayment) -> Verdict:
        if order.status == "paid":
            return Verdict("duplicate", "order already paid", payment.status)
        if order.status == "canceled":
            # YooKassa's life cycle is linear; money for a canceled order needs a human.
            log.error(
                "succeeded payment for a canceled order", extra={"order_id": str(order.order_id)}
            )
        paid_at = payment.captured_at or datetime.now(UTC)
        order.status = "paid"
        order.paid_at = paid_at
        subscription_event = await self._extend_subscription(ctx, order, paid_at)
        order.subscription_id = subscription_event.subscription_id
        await ctx.outbox.add_many(
            ctx.session,
            [
                PaymentSucceeded(**_payment_facts(order, payment), paid_at=paid_at),
                subscription_event,
            ],
            cause=ctx.envelope,
        )
        return Verdict("paid", None, payment.status)

    async def _extend_subscription(
        self, ctx: MessageContext, order: Order, paid_at: datetime
    ) -> SubscriptionActivated | SubscriptionExtended:
        session = ctx.session
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

    async def _canceled(
        self, ctx: MessageContext, order: Order, payment: YooKassaPayment
    ) -> Verdict:
        if order.status == "canceled":
            return Verdict("duplicate", "order already canceled", payment.status)
        if order.status == "paid":
            log.error("canceled payment for a paid order", extra={"order_id": str(order.order_id)})
            return Verdict("rejected_state", "order is paid", payment.status)
        canceled_at = datetime.now(UTC)
        order.status = "canceled"
        order.canceled_at = canceled_at
        order.cancellation_party = payment.cancellation_party or "unknown"
        order.cancellation_reason = payment.cancellation_reason or "unknown"
        await ctx.publish(
            PaymentCanceled(
                **_payment_facts(order, payment),
                canceled_at=canceled_at,
                cancellation_party=order.cancellation_party,
                cancellation_reason=order.cancellation_reason,
            )
        )
        return Verdict("canceled", None, payment.status)


def _payment_facts(order: Order, payment: YooKassaPayment) -> dict[str, Any]:
    """What every payment outcome event says about the order and the verified payment."""
    return {
        "order_id": order.order_id,
        "checkout_id": order.checkout_id,
        "customer_id": order.customer_id,
        "plan_id": order.plan_id,
        "provider": order.provider,
        "provider_payment_id": payment.id,
        "amount": payment.amount,
    }
