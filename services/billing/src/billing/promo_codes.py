"""Promo codes' SQL: the codes, and their uses taken under the code's row lock.

Every limit is judged again under ``SELECT ... FOR UPDATE`` of the code, so a 10-use code
redeemed by a hundred customers at once gives exactly ten. A discount's use is taken with
the order that pays for it (``reserved``), becomes ``used`` when the order is paid and is
given back (``released``) when it never is; free days are used at once. The rules are
``billing.domain.promos``; the consumer of the codes customers type is ``billing.promos``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Final

from sqlalchemy import exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain import promos as rules
from billing.domain.orders import COMPLIMENTARY, PROMO_PROVIDER
from billing.domain.promos import Code, Refusal
from billing.models import Order, PlanRow, PromoCode, PromoRedemption, Subscription
from contracts.money import Money

log = logging.getLogger(__name__)

PROVIDER: Final = PROMO_PROVIDER


def code_of(row: PromoCode) -> Code:
    amount_off = (
        Money(amount_minor=row.amount_off_minor, currency=row.amount_off_currency)
        if row.amount_off_minor is not None and row.amount_off_currency is not None
        else None
    )
    return Code(
        code=row.code,
        kind=row.kind,  # type: ignore[arg-type]  # the check constraint keeps it one of four
        percent_off=row.percent_off,
        amount_off=amount_off,
        free_days=row.free_days,
        extra_traffic_bytes=row.extra_traffic_bytes,
        plan_ids=tuple(row.plan_ids),
        max_uses=row.max_uses,
        uses=row.uses,
        once_per_customer=row.once_per_customer,
        first_purchase_only=row.first_purchase_only,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


async def _locked(session: AsyncSession, code: str) -> PromoCode | None:
    row: PromoCode | None = await session.scalar(
        select(PromoCode)
        .where(PromoCode.code == code)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return row


async def _customer(session: AsyncSession, code: str, customer_id: uuid.UUID) -> rules.Customer:
    has_paid = await session.scalar(
        select(
            exists().where(
                Order.customer_id == customer_id,
                Order.paid_at.is_not(None),
                Order.provider.not_in(COMPLIMENTARY),
            )
        )
    )
    used = await session.scalar(
        select(
            exists().where(
                PromoRedemption.code == code,
                PromoRedemption.customer_id == customer_id,
                PromoRedemption.status != "released",
            )
        )
    )
    subscribed = await session.scalar(
        select(exists().where(Subscription.customer_id == customer_id))
    )
    return rules.Customer(
        has_paid=bool(has_paid), used_code=bool(used), has_subscription=bool(subscribed)
    )


async def check(
    session: AsyncSession,
    code: str,
    customer_id: uuid.UUID,
    now: datetime,
    *,
    plan_id: str | None = None,
    price: Money | None = None,
    lock: bool = False,
) -> Code | Refusal:
    """The code, when ``customer_id`` may redeem it now; else why not. With ``lock`` the
    code's row stays locked to the end of the transaction, for taking a use."""
    row = (
        await _locked(session, code)
        if lock
        else await session.get(PromoCode, code, populate_existing=True)
    )
    found = code_of(row) if row is not None else None
    customer = await _customer(session, code, customer_id)
    refusal = rules.refusal(found, customer, now=now, plan_id=plan_id, price=price)
    if refusal is not None:
        return refusal
    assert found is not None
    return found


async def take(
    session: AsyncSession,
    code: Code,
    customer_id: uuid.UUID,
    *,
    order_id: uuid.UUID | None,
    status: str,
) -> None:
    """Take one use of ``code`` (locked and checked by :func:`check` in this transaction)."""
    await session.execute(
        text("UPDATE promo_codes SET uses = uses + 1 WHERE code = :code"), {"code": code.code}
    )
    session.add(
        PromoRedemption(
            redemption_id=uuid.uuid4(),
            code=code.code,
            customer_id=customer_id,
            order_id=order_id,
            status=status,
            once=code.once_per_customer,
        )
    )


_SETTLED = text(
    """
    UPDATE promo_redemptions SET status = :status, updated_at = now()
    WHERE order_id = :order_id AND status = :was
    RETURNING code
    """
)


async def release(session: AsyncSession, order: Order) -> None:
    """The order will not be paid: its use of the code is given back."""
    if order.promo_code is None:
        return
    code = await session.scalar(
        _SETTLED, {"order_id": order.order_id, "status": "released", "was": "reserved"}
    )
    if code is not None:
        await session.execute(
            text("UPDATE promo_codes SET uses = uses - 1 WHERE code = :code"), {"code": code}
        )


async def used(session: AsyncSession, order: Order) -> None:
    """The order was paid: its use of the code is spent. One paid after its use was given
    back (a late payment of a canceled order) takes it again: the money was taken at the
    discount."""
    if order.promo_code is None:
        return
    if await session.scalar(
        _SETTLED, {"order_id": order.order_id, "status": "used", "was": "reserved"}
    ):
        return
    again = await session.scalar(
        _SETTLED, {"order_id": order.order_id, "status": "used", "was": "released"}
    )
    if again is not None:
        counted = await session.scalar(_TAKEN_AGAIN, {"code": again})
        log.warning(
            "a canceled order with a promo code was paid late: its use is taken again",
            extra={"order_id": str(order.order_id), "code": again, "counted": bool(counted)},
        )


# Counted while the limit allows; past it, the use stands and nobody else gets one.
_TAKEN_AGAIN = text(
    """
    UPDATE promo_codes SET uses = uses + 1
    WHERE code = :code AND (max_uses IS NULL OR uses < max_uses)
    RETURNING uses
    """
)


class CodeTaken(Exception):
    """A code by that name exists already."""


async def create(session: AsyncSession, code: Code, *, note: str | None = None) -> None:
    """Add ``code`` (its ``offer`` validated first); raises :class:`CodeTaken`."""
    code.offer  # noqa: B018  (raises ValueError for a code that gives nothing or two things)
    if code.max_uses is not None and code.max_uses < 1:
        raise ValueError("a limited code has at least one use")
    if code.kind == "free_days" and code.plan_ids:
        plans = await session.scalars(
            select(PlanRow.plan_id).where(PlanRow.plan_id.in_(code.plan_ids))
        )
        missing = set(code.plan_ids) - set(plans)
        if missing:
            raise ValueError(f"no such plans: {', '.join(sorted(missing))}")
    if await session.get(PromoCode, code.code) is not None:
        raise CodeTaken(code.code)
    session.add(
        PromoCode(
            code=code.code,
            kind=code.kind,
            percent_off=code.percent_off,
            amount_off_minor=code.amount_off.amount_minor if code.amount_off else None,
            amount_off_currency=code.amount_off.currency if code.amount_off else None,
            free_days=code.free_days,
            extra_traffic_bytes=code.extra_traffic_bytes,
            plan_ids=list(code.plan_ids),
            max_uses=code.max_uses,
            uses=0,
            once_per_customer=code.once_per_customer,
            first_purchase_only=code.first_purchase_only,
            valid_from=code.valid_from,
            valid_until=code.valid_until,
            note=note,
        )
    )


async def listing(session: AsyncSession) -> list[tuple[Code, str | None]]:
    """Every code, newest first, with its note."""
    rows = await session.scalars(select(PromoCode).order_by(PromoCode.created_at.desc()))
    return [(code_of(row), row.note) for row in rows]
