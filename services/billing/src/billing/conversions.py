"""A trial converted: the customer's first payment for a plan after their free trial.

Called with every paid plan order (``billing.payments.deliver``); the trials themselves are
started by ``billing.trials``.
"""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain.orders import COMPLIMENTARY
from billing.models import Order, Trial

TRIALS = Counter(
    "billing_trials_total",
    "Trials asked for, by outcome (started, converted, or the refusal's reason)",
    ["outcome"],
)


async def converted(session: AsyncSession, order: Order) -> None:
    """A plan was paid: the customer's trial, if any, converted with this order."""
    if order.provider in COMPLIMENTARY:
        return
    converted_trial = await session.scalar(
        update(Trial)
        .where(Trial.customer_id == order.customer_id, Trial.converted_at.is_(None))
        .values(converted_at=order.paid_at, converted_order_id=order.order_id)
        .returning(Trial.customer_id)
    )
    if converted_trial is not None:
        TRIALS.labels("converted").inc()
