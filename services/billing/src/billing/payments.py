"""What a verified payment does: the order settles, the ledger records the money, and what
was bought is delivered (a subscription period, or credit on the wallet).

Called with facts a provider vouched for (``providers.base.PaymentState``), inside one
transaction that also writes the events to the outbox. Nothing here calls a provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import autopay, conversions, ledger, lifecycle, orders, promo_codes, wallets
from billing.domain import ledger as entries
from billing.domain import orders as rules
from billing.domain.orders import COMPLIMENTARY, OrderKind
from billing.models import Customer, Order
from billing.providers.base import PaymentState, PaymentStatus, SavedMethod
from billing.subscriptions import add_traffic, extend_for
from contracts.billing import SubscriptionExtended, SubscriptionPlanChanged
from contracts.envelope import Event
from contracts.money import Money

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a verified fact did, for the audit, the log and the metric."""

    outcome: str
    detail: str | None = None
    events: tuple[Event, ...] = ()


async def settle(session: AsyncSession, provider: str, state: PaymentState) -> Outcome:
    """Apply a verified payment to its order; the caller writes ``events`` to the outbox."""
    order = await orders.lock_for_payment(
        session, provider, state.provider_payment_id, state.order_ref
    )
    if order is None:
        return Outcome(
            "rejected_unknown_order", f"no order for {provider} payment {state.provider_payment_id}"
        )
    expected = rules.amount_of(order)
    if state.amount != expected:
        return Outcome(
            "rejected_amount_mismatch", f"{provider} says {state.amount}, the order is {expected}"
        )
    if state.charge_id is not None:
        order.provider_charge_id = state.charge_id
    if state.status is PaymentStatus.SUCCEEDED:
        return await _paid(session, order, state)
    if state.status is PaymentStatus.CANCELED and state.final:
        settlement = await cancel(
            session,
            order,
            provider_payment_id=state.provider_payment_id,
            canceled_at=state.occurred_at or datetime.now(UTC),
            party=state.cancellation_party,
            reason=state.cancellation_reason,
        )
        if settlement.outcome == "rejected_state":
            log.error(
                "a provider canceled a payment of a settled order",
                extra={"order_id": str(order.order_id), "status": order.status},
            )
        return Outcome(settlement.outcome, settlement.detail, settlement.events)
    if state.status is PaymentStatus.CANCELED:
        return Outcome("declined_attempt", state.cancellation_reason)
    return Outcome("not_final", f"payment is {state.status}")


async def cancel(
    session: AsyncSession,
    order: Order,
    *,
    provider_payment_id: str,
    canceled_at: datetime,
    party: str | None,
    reason: str | None,
) -> rules.Settlement:
    """The payment will not happen: the order settles canceled, and an autopay charge's
    decline is recorded for the autopay worker."""
    settlement = rules.cancel(
        order,
        provider_payment_id=provider_payment_id,
        canceled_at=canceled_at,
        party=party,
        reason=reason,
    )
    if settlement.changed:
        await autopay.declined(session, order)
        await promo_codes.release(session, order)
    return settlement


async def _paid(session: AsyncSession, order: Order, state: PaymentState) -> Outcome:
    paid_at = state.occurred_at or datetime.now(UTC)
    settlement = rules.pay(order, provider_payment_id=state.provider_payment_id, paid_at=paid_at)
    if not settlement.changed:
        return Outcome(settlement.outcome, settlement.detail)
    if settlement.detail:
        log.warning(settlement.detail, extra={"order_id": str(order.order_id)})
    entry = _entry_for(order, state.provider_payment_id)
    moves = await ledger.post_moving(session, entry) or []
    delivered = await deliver(session, order, paid_at, state.saved_method)
    credited = tuple(wallets.changed(entry, move, paid_at) for move in moves)
    return Outcome(
        settlement.outcome, settlement.detail, (*settlement.events, *delivered, *credited)
    )


def _entry_for(order: Order, provider_payment_id: str) -> entries.Entry:
    if order.kind == OrderKind.TOPUP:
        return entries.topup_paid_by_provider(
            provider=order.provider,
            provider_payment_id=provider_payment_id,
            order_id=order.order_id,
            customer_id=order.customer_id,
            paid=rules.amount_of(order),
            credit=credit_of(order),
        )
    return entries.plan_paid_by_provider(
        provider=order.provider,
        provider_payment_id=provider_payment_id,
        order_id=order.order_id,
        customer_id=order.customer_id,
        amount=rules.amount_of(order),
    )


async def _came_by_a_link(session: AsyncSession, order: Order) -> bool:
    code = await session.scalar(
        select(Customer.referral_code).where(Customer.customer_id == order.customer_id)
    )
    return bool(code)


def credit_of(order: Order) -> Money:
    assert order.credit_minor is not None
    assert order.credit_currency is not None
    return Money(amount_minor=order.credit_minor, currency=order.credit_currency)


async def deliver(
    session: AsyncSession, order: Order, paid_at: datetime, saved: SavedMethod | None = None
) -> tuple[Event, ...]:
    """What a paid order buys: a plan's period (an event provisioning acts on), which also
    moves or starts autopay (``saved``: the method the payment saved), or a traffic pack's
    traffic on the current allowance. A top-up's credit is the ledger entry itself."""
    if order.kind == OrderKind.TRAFFIC:
        added = await add_traffic(session, order, paid_at)
        if added is None:
            return ()
        added_notice = lifecycle.plan_notice(
            order.customer_id,
            "traffic.added",
            str(order.order_id),
            traffic_limit_bytes=added.added_bytes,
            total_bytes=added.traffic_limit_bytes + added.extra_traffic_bytes,
            expires_at=added.period_end.isoformat(),
        )
        return (added, added_notice)
    if order.kind != OrderKind.PLAN:
        return ()
    await promo_codes.used(session, order)
    await conversions.converted(session, order)
    if order.provider not in COMPLIMENTARY and await _came_by_a_link(session, order):
        await lifecycle.schedule_referral(session, order.order_id, paid_at)
    period = await extend_for(session, order, paid_at)
    assert period.access_until is not None
    await lifecycle.schedule(
        session, period.subscription_id, period.period_end, period.access_until
    )
    told: tuple[Event, ...] = ()
    if isinstance(period, SubscriptionPlanChanged):
        told = (
            lifecycle.plan_notice(
                order.customer_id,
                "subscription.upgraded",
                str(order.order_id),
                plan=order.title,
                expires_at=period.period_end.isoformat(),
                credit_hours=period.credit_hours,
                traffic_limit_bytes=order.traffic_limit_bytes,
            ),
        )
    elif isinstance(period, SubscriptionExtended) and period.next_plan_id is not None:
        await lifecycle.schedule_plan_change(
            session, period.subscription_id, period.previous_period_end
        )
        told = (
            lifecycle.plan_notice(
                order.customer_id,
                "subscription.downgrade_scheduled",
                str(order.order_id),
                plan=order.title,
                from_at=period.previous_period_end.isoformat(),
                expires_at=period.period_end.isoformat(),
            ),
        )
    return (period, *told, *await autopay.paid(session, order, saved, period.period_end))
