"""Checkout: an order for a plan and a YooKassa payment the customer can pay.

The request is recorded by the consumer; the payment is created by a worker, outside any
transaction, so that a slow or failing provider delays only its own checkouts.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.models import Order, PlanRow
from billing.yookassa import YooKassaClient, YooKassaError, YooKassaPayment, YooKassaRejected
from chassis import metrics
from chassis.db import transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.worker import RetryPolicy, Wakeup, claim, continuing_trace, trace_carrier
from contracts.billing import CheckoutFailed, CheckoutReady
from contracts.bot import RequestCheckout
from contracts.money import Money

log = logging.getLogger(__name__)

SUPPORTED_PROVIDERS: Final = ("yookassa",)
_ORDER_NAMESPACE: Final = uuid.UUID("5f1d7c52-3b0e-4d8c-9a57-0c2e8b1f6a44")


def order_id_for(checkout_id: uuid.UUID) -> uuid.UUID:
    """The order of a checkout, the same on every attempt.

    YooKassa replays the first payment for a repeated Idempotence-Key, metadata included;
    a retried checkout must therefore name the same order the first attempt named.
    """
    return uuid.uuid5(_ORDER_NAMESPACE, str(checkout_id))


def refusal(plan: PlanRow | None, request: RequestCheckout) -> tuple[str, str] | None:
    """Why a checkout cannot go ahead, as ``(reason_code, reason)``; ``None`` if it can."""
    if plan is None:
        return "plan_not_found", f"plan {request.plan_id} is not in the catalog"
    if not plan.active:
        return "plan_inactive", f"plan {request.plan_id} is not for sale"
    if request.provider not in SUPPORTED_PROVIDERS:
        return "provider_unsupported", f"provider {request.provider} is not configured"
    return None


class Checkouts:
    """The consumer side: a checkout request becomes an order due for its payment.

    No provider is called here: the order is recorded with ``checkout_due_at`` set, in the
    inbox transaction, and :class:`CheckoutPayments` creates the payment and answers.
    """

    def __init__(self, wakeup: Wakeup) -> None:
        self._wakeup = wakeup

    async def handle(self, request: RequestCheckout, ctx: MessageContext) -> None:
        session = ctx.session
        existing = await session.scalar(
            select(Order).where(Order.checkout_id == request.checkout_id)
        )
        if existing is not None:
            # The bot asked again with the same id: answer what was decided the first time,
            # or let the worker answer when it has.
            if existing.checkout_due_at is None:
                await ctx.publish(_answer(existing))
            return
        plan = await session.get(PlanRow, request.plan_id)
        refused = refusal(plan, request)
        if refused is not None or plan is None:
            code, reason = refused or ("plan_not_found", "no plan")
            log.info(
                "checkout refused",
                extra={"checkout_id": str(request.checkout_id), "reason": reason},
            )
            await ctx.publish(
                CheckoutFailed(
                    checkout_id=request.checkout_id,
                    customer_id=request.customer_id,
                    reason_code=code,
                    reason=reason,
                )
            )
            return
        session.add(
            Order(
                order_id=order_id_for(request.checkout_id),
                checkout_id=request.checkout_id,
                customer_id=request.customer_id,
                plan_id=plan.plan_id,
                amount_minor=plan.price_minor,
                currency=plan.currency,
                duration_days=plan.duration_days,
                traffic_limit_bytes=plan.traffic_limit_bytes,
                provider=request.provider,
                status="pending",
                return_url=request.return_url,
                checkout_due_at=datetime.now(UTC),
                checkout_attempts=0,
                checkout_correlation_id=ctx.envelope.correlationid or ctx.envelope.id,
                trace_context=trace_carrier(),
            )
        )
        ctx.after_commit(self._wakeup.set)


@dataclass(frozen=True, slots=True)
class DuePayment:
    order_id: uuid.UUID
    checkout_id: uuid.UUID
    customer_id: uuid.UUID
    plan_id: str
    plan_title: str
    amount_minor: int
    currency: str
    return_url: str | None
    checkout_attempts: int
    checkout_correlation_id: str | None
    trace_context: dict[str, str] | None


_CLAIM = text(
    """
    UPDATE orders o
    SET checkout_lease_until = now() + CAST(:lease AS interval),
        checkout_attempts = o.checkout_attempts + 1
    FROM plans
    WHERE plans.plan_id = o.plan_id AND o.order_id IN (
        SELECT order_id FROM orders
        WHERE checkout_due_at <= now()
          AND (checkout_lease_until IS NULL OR checkout_lease_until < now())
        ORDER BY checkout_due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING o.order_id, o.checkout_id, o.customer_id, o.plan_id, plans.title_ru AS plan_title,
        o.amount_minor, o.currency, o.return_url, o.checkout_attempts,
        o.checkout_correlation_id, o.trace_context
    """
)


class CheckoutPayments:
    """The worker that creates each due order's payment with the provider and answers.

    The checkout id is the Idempotence-Key: a retry after a lost answer, or after this
    process died mid-call, names the payment the first attempt created. A provider that
    does not answer is tried again with backoff, ``attempts`` times in all, then the
    checkout fails with ``provider_unavailable``; a refusal fails it at once.
    """

    def __init__(
        self,
        yookassa: YooKassaClient,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        return_url: str,
        attempts: int,
        retry: RetryPolicy,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 16,
    ) -> None:
        self._yookassa = yookassa
        self._sessions = sessions
        self._outbox = outbox
        self._return_url = return_url
        self._attempts = attempts
        self._retry = retry
        self._lease = lease
        self.batch_size = batch_size

    async def step(self) -> int:
        rows = await claim(self._sessions, _CLAIM, lease=self._lease, limit=self.batch_size)
        due = [DuePayment(**row) for row in rows]
        await asyncio.gather(*(self._create(payment) for payment in due))
        return len(due)

    async def _create(self, due: DuePayment) -> None:
        with continuing_trace(
            "billing create payment", due.trace_context, checkout_id=str(due.checkout_id)
        ):
            try:
                payment = await self._yookassa.create_payment(
                    idempotence_key=str(due.checkout_id),
                    amount=Money(amount_minor=due.amount_minor, currency=due.currency),
                    description=f"VPN, {due.plan_title}, заказ {due.order_id.hex[:8]}",
                    return_url=due.return_url or self._return_url,
                    metadata={
                        "order_id": str(due.order_id),
                        "checkout_id": str(due.checkout_id),
                        "customer_id": str(due.customer_id),
                        "plan_id": due.plan_id,
                    },
                )
            except YooKassaRejected as exc:
                await self._decide(due, failure=("provider_rejected", f"YooKassa refused: {exc}"))
            except YooKassaError as exc:
                if due.checkout_attempts >= self._attempts:
                    failure = ("provider_unavailable", f"YooKassa did not answer: {exc}")
                    await self._decide(due, failure=failure)
                else:
                    await self._again(due, exc)
            else:
                await self._decide(due, payment=payment)

    async def _decide(
        self,
        due: DuePayment,
        *,
        payment: YooKassaPayment | None = None,
        failure: tuple[str, str] | None = None,
    ) -> None:
        async with transaction(self._sessions) as session:
            order = await session.get(Order, due.order_id, with_for_update=True)
            assert order is not None
            if payment is not None:
                order.provider_payment_id = payment.id
                order.confirmation_url = payment.confirmation_url
                order.payment_expires_at = payment.expires_at
                if payment.confirmation_url is None:
                    failure = ("provider_rejected", "YooKassa gave no confirmation URL")
            if failure is not None and order.status == "pending":
                _fail(order, *failure)
            order.checkout_due_at = None
            order.checkout_lease_until = None
            await session.flush()
            await self._outbox.add(
                session, _answer(order), correlation_id=due.checkout_correlation_id
            )
        outcome = "failed" if failure is not None else "done"
        metrics.WORK_OUTCOMES.labels("billing", "checkout_payment", outcome).inc()

    async def _again(self, due: DuePayment, error: Exception) -> None:
        delay = self._retry.delay(due.checkout_attempts)
        log.warning(
            "YooKassa unavailable; the payment will be created again with the same key",
            extra={
                "checkout_id": str(due.checkout_id),
                "attempt": due.checkout_attempts,
                "delay_s": delay.total_seconds(),
                "error": repr(error),
            },
        )
        metrics.WORK_OUTCOMES.labels("billing", "checkout_payment", "retry").inc()
        async with transaction(self._sessions) as session:
            await session.execute(
                update(Order)
                .where(Order.order_id == due.order_id)
                .values(checkout_due_at=func.now() + delay, checkout_lease_until=None)
            )


def _fail(order: Order, code: str, reason: str) -> None:
    order.status = "failed"
    order.failure_code = code
    order.failure_reason = reason[:1024]
    log.warning("checkout failed", extra={"order_id": str(order.order_id), "reason": reason})


def _answer(order: Order) -> CheckoutReady | CheckoutFailed:
    if (
        order.status == "failed"
        or order.provider_payment_id is None
        or order.confirmation_url is None
    ):
        return CheckoutFailed(
            checkout_id=order.checkout_id,
            customer_id=order.customer_id,
            reason_code=order.failure_code or "checkout_conflict",
            reason=order.failure_reason or f"order {order.order_id} has no payment link",
        )
    return CheckoutReady(
        checkout_id=order.checkout_id,
        customer_id=order.customer_id,
        order_id=order.order_id,
        provider=order.provider,
        provider_payment_id=order.provider_payment_id,
        confirmation_url=order.confirmation_url,
        amount=Money(amount_minor=order.amount_minor, currency=order.currency),
        expires_at=order.payment_expires_at,
    )
