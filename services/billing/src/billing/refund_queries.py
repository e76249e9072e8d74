"""The refunds' SQL: finding, locking, summing and scheduling refunds. The rules are in
``billing.domain.refunds``; the use cases in ``billing.refunds``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import RowMapping, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.domain.refunds import IN_FLIGHT, RefundStatus
from billing.models import Customer, Refund
from chassis.worker import claim

_HELD = (*IN_FLIGHT, RefundStatus.SUCCEEDED)


async def lock(session: AsyncSession, refund_id: uuid.UUID) -> Refund | None:
    return await session.get(Refund, refund_id, with_for_update=True, populate_existing=True)


async def lock_by_provider_id(
    session: AsyncSession, provider: str, provider_refund_id: str
) -> Refund | None:
    refund: Refund | None = await session.scalar(
        select(Refund)
        .where(Refund.provider == provider, Refund.provider_refund_id == provider_refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return refund


async def known(session: AsyncSession, provider: str, provider_refund_id: str) -> bool:
    found = await session.scalar(
        select(
            exists().where(
                Refund.provider == provider, Refund.provider_refund_id == provider_refund_id
            )
        )
    )
    return bool(found)


async def held_minor(session: AsyncSession, order_id: uuid.UUID) -> int:
    """What the order's refunds took or are taking: succeeded and in flight."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.order_id == order_id, Refund.status.in_([s.value for s in _HELD])
        )
    )
    return int(total or 0)


async def being_requested(session: AsyncSession, order_id: uuid.UUID) -> bool:
    """Whether a refund of the order is waiting for (or in) its call to the provider, so
    that the provider's answer, and the refund id it names, are not known yet."""
    found = await session.scalar(
        select(
            exists().where(
                Refund.order_id == order_id, Refund.status == RefundStatus.REQUESTED.value
            )
        )
    )
    return bool(found)


async def telegram_user_of(session: AsyncSession, customer_id: uuid.UUID) -> int | None:
    telegram_user_id: int | None = await session.scalar(
        select(Customer.telegram_user_id).where(Customer.customer_id == customer_id)
    )
    return telegram_user_id


_CLAIM_DUE = text(
    """
    UPDATE refunds r
    SET lease_until = now() + CAST(:lease AS interval), attempts = r.attempts + 1
    FROM orders o
    WHERE o.order_id = r.order_id AND r.refund_id IN (
        SELECT refund_id FROM refunds
        WHERE due_at <= now() AND status = 'requested'
          AND (lease_until IS NULL OR lease_until < now())
        ORDER BY due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING r.refund_id, r.order_id, r.customer_id, r.provider, r.amount_minor, r.currency,
        r.attempts, r.correlation_id, r.trace_context, o.provider_payment_id,
        o.provider_charge_id, o.language, o.title, o.receipt_email,
        (SELECT c.telegram_user_id FROM customers c WHERE c.customer_id = r.customer_id)
            AS telegram_user_id
    """
)


async def claim_due(
    sessions: async_sessionmaker[AsyncSession], *, lease: timedelta, limit: int
) -> Sequence[RowMapping]:
    """Refunds due to be asked of their provider, leased to this worker."""
    return await claim(sessions, _CLAIM_DUE, lease=lease, limit=limit)


async def due_again(session: AsyncSession, refund_id: uuid.UUID, delay: timedelta) -> None:
    await session.execute(
        update(Refund)
        .where(Refund.refund_id == refund_id, Refund.status == RefundStatus.REQUESTED.value)
        .values(due_at=func.now() + delay, lease_until=None, updated_at=func.now())
    )


def settled(refund: Refund) -> None:
    """The provider was asked (or cannot be): nothing is due for the refund any more."""
    refund.due_at = None
    refund.lease_until = None
