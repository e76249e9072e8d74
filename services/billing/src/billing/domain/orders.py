"""An order's life: its states, the moves allowed between them, and what each move implies.

Every change of an order's status goes through :func:`move`, so the allowed transitions
are this table and nowhere else. The functions that settle an order (paid, canceled,
failed) set its facts and return the events the change implies; the caller writes them to
the outbox in the same transaction. Pure: the order is a plain object here, no session.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol
from uuid import UUID

from contracts.billing import PaymentCanceled, PaymentSucceeded
from contracts.money import Money


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    """Recorded; its payment is being created or waits for the customer."""
    PAID = "paid"
    CANCELED = "canceled"
    """The provider canceled the payment (expired, declined): nothing was taken."""
    FAILED = "failed"
    """No payment could be created for it; the customer was told at checkout."""
    REFUNDED = "refunded"
    """Paid, then refunded in full."""


PROMO_PROVIDER: Final = "promo"
"""The ``provider`` of the orders free-days codes make: nothing is paid, history is kept."""
TRIAL_PROVIDER: Final = "trial"
"""The ``provider`` of a trial's order: nothing is paid."""
REFERRAL_PROVIDER: Final = "referral"
"""The ``provider`` of the orders referral rewards in days make."""
COMPLIMENTARY: Final = (TRIAL_PROVIDER, PROMO_PROVIDER, REFERRAL_PROVIDER)
"""Orders settled without a payment; a customer with only these has never paid."""


class OrderKind(enum.StrEnum):
    PLAN = "plan"
    """A period of a plan: paid, it starts or extends the customer's subscription."""
    TOPUP = "topup"
    """Money on the customer's wallet."""
    TRAFFIC = "traffic"
    """Extra traffic for the current allowance of the customer's subscription."""


TRANSITIONS: Final[dict[OrderStatus, frozenset[OrderStatus]]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELED, OrderStatus.FAILED}),
    # Money that arrives for a canceled order (a late capture, a link paid just as it
    # expired) is honoured: the customer paid, so they get what they paid for.
    OrderStatus.CANCELED: frozenset({OrderStatus.PAID}),
    OrderStatus.PAID: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.FAILED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, current: OrderStatus, target: OrderStatus) -> None:
        super().__init__(f"an order cannot go from {current} to {target}")
        self.current = current
        self.target = target


class OrderLike(Protocol):
    """The attributes of an order the rules read and set (the ORM row has them all)."""

    order_id: UUID
    checkout_id: UUID
    customer_id: UUID
    kind: str
    plan_id: str | None
    topup_id: str | None
    pack_id: str | None
    amount_minor: int
    currency: str
    provider: str
    provider_payment_id: str | None
    status: str
    failure_code: str | None
    failure_reason: str | None
    cancellation_party: str | None
    cancellation_reason: str | None
    paid_at: datetime | None
    canceled_at: datetime | None
    refunded_minor: int
    autopay_charge: bool


def status_of(order: OrderLike) -> OrderStatus:
    return OrderStatus(order.status)


def can_move(order: OrderLike, target: OrderStatus) -> bool:
    return target in TRANSITIONS[status_of(order)]


def move(order: OrderLike, target: OrderStatus) -> None:
    current = status_of(order)
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    order.status = target.value


def amount_of(order: OrderLike) -> Money:
    return Money(amount_minor=order.amount_minor, currency=order.currency)


def item_of(order: OrderLike) -> str:
    """The plan, top-up or traffic pack the order bought."""
    item = {
        OrderKind.PLAN: order.plan_id,
        OrderKind.TOPUP: order.topup_id,
        OrderKind.TRAFFIC: order.pack_id,
    }[OrderKind(order.kind)]
    if item is None:
        raise ValueError(f"order {order.order_id} of kind {order.kind} names no item")
    return item


@dataclass(frozen=True, slots=True)
class Settlement:
    """What settling an order decided: the outcome recorded in the audit, and the events."""

    outcome: str
    events: tuple[PaymentSucceeded | PaymentCanceled, ...] = ()
    detail: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.events)


def pay(order: OrderLike, *, provider_payment_id: str, paid_at: datetime) -> Settlement:
    """The provider vouches that the order's amount was paid."""
    current = status_of(order)
    if current in (OrderStatus.PAID, OrderStatus.REFUNDED):
        return Settlement("duplicate", detail=f"order already {current}")
    detail = "paid after it was canceled" if current is OrderStatus.CANCELED else None
    move(order, OrderStatus.PAID)
    order.provider_payment_id = provider_payment_id
    order.paid_at = paid_at
    event = PaymentSucceeded(
        order_id=order.order_id,
        checkout_id=order.checkout_id,
        customer_id=order.customer_id,
        plan_id=item_of(order),
        kind=OrderKind(order.kind).value,
        provider=order.provider,
        provider_payment_id=provider_payment_id,
        amount=amount_of(order),
        paid_at=paid_at,
    )
    return Settlement("paid", (event,), detail)


def cancel(
    order: OrderLike,
    *,
    provider_payment_id: str,
    canceled_at: datetime,
    party: str | None,
    reason: str | None,
) -> Settlement:
    """The provider vouches that the payment will not happen."""
    current = status_of(order)
    if current is OrderStatus.CANCELED:
        return Settlement("duplicate", detail="order already canceled")
    if current is not OrderStatus.PENDING:
        # A provider's life cycle is linear; a cancel after money arrived is nonsense.
        return Settlement("rejected_state", detail=f"order is {current}")
    move(order, OrderStatus.CANCELED)
    order.canceled_at = canceled_at
    order.cancellation_party = party or "unknown"
    order.cancellation_reason = reason or "unknown"
    event = PaymentCanceled(
        order_id=order.order_id,
        checkout_id=order.checkout_id,
        customer_id=order.customer_id,
        plan_id=item_of(order),
        kind=OrderKind(order.kind).value,
        provider=order.provider,
        provider_payment_id=provider_payment_id,
        amount=amount_of(order),
        canceled_at=canceled_at,
        cancellation_party=order.cancellation_party,
        cancellation_reason=order.cancellation_reason,
        autopay=order.autopay_charge,
    )
    return Settlement("canceled", (event,))


def fail(order: OrderLike, code: str, reason: str) -> bool:
    """No payment could be made for the order; False when it was settled meanwhile."""
    if not can_move(order, OrderStatus.FAILED):
        return False
    move(order, OrderStatus.FAILED)
    order.failure_code = code
    order.failure_reason = reason[:1024]
    return True


def refund(order: OrderLike, amount: Money) -> bool:
    """Part (or the rest) of what was paid is back with the customer; True when that is
    all of it, and the order is then refunded."""
    if status_of(order) is not OrderStatus.PAID:
        raise IllegalTransition(status_of(order), OrderStatus.REFUNDED)
    if amount.currency != order.currency or amount.amount_minor <= 0:
        raise ValueError(f"a refund of {amount} for an order in {order.currency}")
    total = order.refunded_minor + amount.amount_minor
    if total > order.amount_minor:
        raise ValueError(f"refunds of {total} exceed the {order.amount_minor} paid")
    order.refunded_minor = total
    if total < order.amount_minor:
        return False
    move(order, OrderStatus.REFUNDED)
    return True
