"""Checkout: an order for a plan and a YooKassa payment the customer can pay."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Final

from sqlalchemy import select

from billing.models import Order, PlanRow
from billing.yookassa import YooKassaClient, YooKassaPayment, YooKassaRejected, YooKassaUnavailable
from chassis.messaging.consumer import MessageContext
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
    def __init__(
        self, yookassa: YooKassaClient, *, return_url: str, attempts: int, retry_delay_s: float
    ) -> None:
        self._yookassa = yookassa
        self._return_url = return_url
        self._attempts = attempts
        self._retry_delay_s = retry_delay_s

    async def handle(self, request: RequestCheckout, ctx: MessageContext) -> None:
        session = ctx.session
        existing = await session.scalar(
            select(Order).where(Order.checkout_id == request.checkout_id)
        )
        if existing is not None:
            # The bot asked again with the same id: answer what was decided the first time.
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
        order = Order(
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
        )
        session.add(order)
        try:
            payment = await self._create_payment(order, plan, request)
        except YooKassaUnavailable as exc:
            _fail(order, "provider_unavailable", f"YooKassa did not answer: {exc}")
        except YooKassaRejected as exc:
            _fail(order, "provider_rejected", f"YooKassa refused the payment: {exc}")
        else:
            order.provider_payment_id = payment.id
            order.confirmation_url = payment.confirmation_url
            order.payment_expires_at = payment.expires_at
            if payment.confirmation_url is None:
                _fail(order, "provider_rejected", "YooKassa gave no confirmation URL")
        await session.flush()
        await ctx.publish(_answer(order))

    async def _create_payment(
        self, order: Order, plan: PlanRow, request: RequestCheckout
    ) -> YooKassaPayment:
        # The checkout id is the Idempotence-Key: however often this runs, one payment.
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._yookassa.create_payment(
                    idempotence_key=str(request.checkout_id),
                    amount=Money(amount_minor=order.amount_minor, currency=order.currency),
                    description=f"VPN, {plan.title_ru}, заказ {order.order_id.hex[:8]}",
                    return_url=request.return_url or self._return_url,
                    metadata={
                        "order_id": str(order.order_id),
                        "checkout_id": str(request.checkout_id),
                        "customer_id": str(request.customer_id),
                        "plan_id": plan.plan_id,
                    },
                )
            except YooKassaUnavailable:
                if attempt == self._attempts:
                    raise
                log.warning(
                    "YooKassa unavailable; retrying the payment with the same key",
                    extra={"checkout_id": str(request.checkout_id), "attempt": attempt},
                )
                await asyncio.sleep(self._retry_delay_s * attempt)
        raise AssertionError("unreachable")


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
