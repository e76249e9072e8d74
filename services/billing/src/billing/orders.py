"""The orders' SQL: finding, locking and scheduling orders. The rules are in
``billing.domain.orders``; this module only reads and writes rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.domain.orders import OrderKind, OrderStatus
from billing.models import Order
from chassis.worker import claim

_NAMESPACE = uuid.UUID("5f1d7c52-3b0e-4d8c-9a57-0c2e8b1f6a44")


def order_id_for(checkout_id: uuid.UUID) -> uuid.UUID:
    """The order of a checkout, the same on every attempt.

    A provider replays the first payment for a repeated idempotence key, metadata included;
    a retried checkout must therefore name the same order the first attempt named.
    """
    return uuid.uuid5(_NAMESPACE, str(checkout_id))


async def by_checkout(session: AsyncSession, checkout_id: uuid.UUID) -> Order | None:
    order: Order | None = await session.scalar(
        select(Order).where(Order.checkout_id == checkout_id)
    )
    return order


async def lock(session: AsyncSession, order_id: uuid.UUID) -> Order | None:
    return await session.get(Order, order_id, with_for_update=True, populate_existing=True)


_BY_PAYMENT = (
    select(Order)
    .where(
        Order.provider == bindparam("provider"),
        Order.provider_payment_id == bindparam("provider_payment_id"),
    )
    .with_for_update()
)


async def lock_for_payment(
    session: AsyncSession, provider: str, provider_payment_id: str, order_ref: str | None
) -> Order | None:
    """The order a verified payment belongs to, locked.

    Found by the provider's payment id; failing that, by the order id the provider carried
    back (a checkout whose answer was lost created the payment without learning its id),
    which then records the payment id. An order already bound to another payment of the
    same provider is not this payment's.
    """
    order = await session.scalar(
        _BY_PAYMENT, {"provider": provider, "provider_payment_id": provider_payment_id}
    )
    if order is not None or order_ref is None:
        return order
    try:
        order_id = uuid.UUID(order_ref)
    except ValueError:
        return None
    order = await lock(session, order_id)
    if order is None or order.provider != provider:
        return None
    if order.provider_payment_id is None:
        order.provider_payment_id = provider_payment_id
    return order if order.provider_payment_id == provider_payment_id else None


_CLAIM_DUE_PAYMENTS = text(
    """
    UPDATE orders o
    SET checkout_lease_until = now() + CAST(:lease AS interval),
        checkout_attempts = o.checkout_attempts + 1
    WHERE o.order_id IN (
        SELECT order_id FROM orders
        WHERE checkout_due_at <= now()
          AND (checkout_lease_until IS NULL OR checkout_lease_until < now())
        ORDER BY checkout_due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING o.order_id, o.checkout_id, o.customer_id, o.kind, o.plan_id, o.topup_id,
        o.credit_minor, o.credit_currency, o.language, o.title, o.amount_minor, o.currency,
        o.provider, o.return_url, o.checkout_attempts, o.checkout_correlation_id,
        o.trace_context, o.receipt_email, o.autopay_consent_id
    """
)


async def claim_due_payments(
    sessions: async_sessionmaker[AsyncSession], *, lease: timedelta, limit: int
) -> Sequence[RowMapping]:
    """Orders whose payment is due to be created, leased to this worker."""
    return await claim(sessions, _CLAIM_DUE_PAYMENTS, lease=lease, limit=limit)


async def payment_due_again(session: AsyncSession, order_id: uuid.UUID, delay: timedelta) -> None:
    await session.execute(
        update(Order)
        .where(Order.order_id == order_id)
        .values(checkout_due_at=func.now() + delay, checkout_lease_until=None)
    )


def payment_settled(order: Order) -> None:
    """The payment was created (or could not be): nothing is due for it any more."""
    order.checkout_due_at = None
    order.checkout_lease_until = None


def complimentary(
    request_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    provider: str,
    plan_id: str,
    title: str,
    language: str | None,
    currency: str,
    grace_hours: int,
    paid_at: datetime,
    **terms: Any,
) -> Order:
    """A plan order of nothing paid (free days, a trial), settled at once: it extends or
    starts the subscription like a payment does and stays in the history. Named by the
    request it answers, so the same request never makes two."""
    return Order(
        order_id=uuid.uuid5(_NAMESPACE, f"{provider}-order:{request_id}"),
        checkout_id=uuid.uuid5(_NAMESPACE, f"{provider}-checkout:{request_id}"),
        customer_id=customer_id,
        kind=OrderKind.PLAN.value,
        plan_id=plan_id,
        language=language or "ru",
        title=title[:128],
        amount_minor=0,
        currency=currency,
        grace_hours=grace_hours,
        provider=provider,
        status=OrderStatus.PAID.value,
        paid_at=paid_at,
        autopay_charge=False,
        checkout_attempts=0,
        **terms,
    )
