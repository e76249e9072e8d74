"""Refunds: asking for one, and applying one once the provider vouches for it.

:func:`request` is the use case an operator's command (and later the admin API) calls: it
checks the order can give the amount back the way it was paid and records the refund,
due for the refund worker (``billing.refund_worker``), which asks the provider outside any
transaction. An order paid from the wallet needs no provider: its refund is applied at
once, onto the wallet.

:func:`apply` is what a refund the provider vouched for does, whether the worker heard it
from the provider's answer or the verifier from its notification: the ledger entry, the
order's refunded amount, the subscription's shorter end, the events. It happens once per
refund; a refund a provider reports that billing never asked for (one made in the
provider's cabinet) is recorded then, and applied the same way. Both take the caller's
session and return the events for the caller to write to the outbox in that transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from billing import autopay, ledger, lifecycle, orders, wallets
from billing import refund_queries as queries
from billing.domain import ledger as entries
from billing.domain import orders as order_rules
from billing.domain import refunds as rules
from billing.domain.orders import OrderKind, OrderStatus
from billing.domain.refunds import RefundRefused, RefundSource, RefundStatus
from billing.models import Order, Refund
from billing.payments import Outcome, credit_of
from billing.providers import WALLET, Providers
from billing.providers.base import RefundState
from billing.providers.base import RefundStatus as ProviderRefundStatus
from billing.subscriptions import shorten_for
from chassis.worker import trace_carrier
from contracts.billing import PaymentRefunded, SubscriptionShortened, WalletChanged
from contracts.envelope import Event
from contracts.money import Money

log = logging.getLogger(__name__)

__all__ = ["RefundInFlight", "RefundRefused", "Requested", "apply", "request"]


@dataclass(frozen=True, slots=True)
class Requested:
    """A refund recorded: due for its provider, or (from the wallet) applied already."""

    refund_id: uuid.UUID
    order_id: uuid.UUID
    amount: Money
    status: RefundStatus
    events: tuple[Event, ...] = ()


class RefundInFlight(Exception):
    """A provider reports a refund of an order while billing's own request for one is still
    waiting for the provider's answer: it may be that very refund, so it is decided once
    the answer is recorded."""

    retry_after_s = 1.0


async def request(
    session: AsyncSession,
    providers: Providers,
    order_id: uuid.UUID,
    *,
    amount: Decimal | str | None = None,
    reason: str | None = None,
    correlation_id: str | None = None,
) -> Requested:
    """Record a refund of ``amount`` (in the order's currency; all that is left when None).

    Raises :class:`RefundRefused` when the order cannot give it back: not found, not paid,
    more than is left, a provider that cannot refund (or not in part), a top-up whose
    credit the wallet no longer holds.
    """
    order = await orders.lock(session, order_id)
    if order is None:
        raise RefundRefused("order_not_found", f"there is no order {order_id}")
    facts = rules.Refundable(
        status=order_rules.status_of(order),
        kind=OrderKind(order.kind),
        paid=order_rules.amount_of(order),
        provider=order.provider,
        held_minor=await queries.held_minor(session, order.order_id),
    )
    money = rules.amount_to_refund(facts, amount)
    provider = providers.get(order.provider)
    rules.check_method(facts, money, provider.capabilities if provider else None)
    if facts.kind is OrderKind.TOPUP:
        await _check_credit_left(session, order, facts, money)
    now = datetime.now(UTC)
    refund = Refund(
        refund_id=uuid.uuid4(),
        order_id=order.order_id,
        customer_id=order.customer_id,
        provider=order.provider,
        source=RefundSource.OPERATOR.value,
        amount_minor=money.amount_minor,
        currency=money.currency,
        reason=reason,
        status=RefundStatus.REQUESTED.value,
        requested_at=now,
        attempts=0,
        correlation_id=correlation_id,
        trace_context=trace_carrier(),
    )
    session.add(refund)
    await session.flush()
    log.info(
        "refund requested",
        extra={"refund_id": str(refund.refund_id), "order_id": str(order_id), "amount": str(money)},
    )
    if order.provider == WALLET:
        events = await _succeed(session, order, refund, now)
        return Requested(refund.refund_id, order.order_id, money, RefundStatus.SUCCEEDED, events)
    refund.due_at = now
    return Requested(refund.refund_id, order.order_id, money, RefundStatus.REQUESTED)


async def _check_credit_left(
    session: AsyncSession, order: Order, facts: rules.Refundable, amount: Money
) -> None:
    """A top-up is refunded only while the wallet still holds the credit it bought, for
    this refund and for those already asked for and not yet applied."""
    credit = credit_of(order)
    paid = facts.paid.amount_minor
    needed = Money(
        amount_minor=rules.share(credit.amount_minor, paid, facts.held_minor + amount.amount_minor)
        - rules.share(credit.amount_minor, paid, order.refunded_minor),
        currency=credit.currency,
    )
    held = await ledger.wallet_balance(session, entries.wallet(order.customer_id, credit.currency))
    if held.amount_minor < needed.amount_minor:
        raise RefundRefused(
            "credit_spent",
            f"refunding {amount} takes {needed} of credit back; the wallet holds {held}",
        )


async def apply(
    session: AsyncSession,
    provider: str,
    state: RefundState,
    *,
    refund_id: uuid.UUID | None = None,
) -> Outcome:
    """Apply what the provider vouches for about a refund, once.

    ``refund_id`` names billing's refund when the worker has the provider's answer to it;
    without it (a notification) the refund is found by the provider's refund id, and when
    billing has none such the provider made a refund of its own: recorded now, for the
    order of the payment it names. Raises :class:`RefundInFlight` when that cannot be
    decided yet. Outcomes: ``refunded``, ``duplicate``, ``not_final``, ``refund_canceled``,
    ``ignored``, ``rejected_*``.
    """
    if refund_id is not None:
        refund = await queries.lock(session, refund_id)
        if refund is None:
            return Outcome("rejected_unknown_refund", f"there is no refund {refund_id}")
        bound = await _bind(session, refund, state)
        if bound is not None:
            return bound
    else:
        refund = await queries.lock_by_provider_id(session, provider, state.provider_refund_id)
        if refund is None:
            return await _reported(session, provider, state)
    return await _settle(session, refund, state)


async def _bind(session: AsyncSession, refund: Refund, state: RefundState) -> Outcome | None:
    """Record the provider's id of billing's refund; an outcome when it cannot be this one."""
    if refund.provider_refund_id == state.provider_refund_id:
        return None
    if refund.provider_refund_id is not None:
        return Outcome(
            "rejected_unknown_refund",
            f"refund {refund.refund_id} is {refund.provider_refund_id}, "
            f"not {state.provider_refund_id}",
        )
    other = await queries.lock_by_provider_id(session, refund.provider, state.provider_refund_id)
    if other is not None:
        # A provider without idempotence keys (WATA) may answer a repeated request with the
        # refund it made before, which billing has recorded under another row already.
        _fail(
            refund,
            f"{refund.provider} answered with refund {state.provider_refund_id}, "
            f"which is billing's refund {other.refund_id}",
        )
        log.error(
            "a refund was answered with another refund's id; nothing more was refunded",
            extra={"refund_id": str(refund.refund_id), "same_as": str(other.refund_id)},
        )
        return Outcome("duplicate", f"the provider's refund is billing's {other.refund_id}")
    refund.provider_refund_id = state.provider_refund_id
    return None


async def _reported(session: AsyncSession, provider: str, state: RefundState) -> Outcome:
    """A refund billing has no record of: made at the provider, or the answer to billing's
    own request that is not recorded yet."""
    order = await orders.lock_for_payment(session, provider, state.provider_payment_id, None)
    if order is None:
        return Outcome(
            "rejected_unknown_refund",
            f"{provider} refund {state.provider_refund_id} is of payment "
            f"{state.provider_payment_id}, which is no order's",
        )
    if await queries.being_requested(session, order.order_id):
        raise RefundInFlight(f"a refund of order {order.order_id} awaits the provider's answer")
    if await queries.known(session, provider, state.provider_refund_id):
        # Applied by the worker while this waited for the order's lock: looked up again
        # from the top (refund first, then order, the order every apply locks in).
        raise RefundInFlight(f"refund {state.provider_refund_id} was recorded meanwhile")
    if state.status is ProviderRefundStatus.PENDING:
        return Outcome("not_final", f"refund {state.provider_refund_id} is pending")
    if state.status is not ProviderRefundStatus.SUCCEEDED:
        return Outcome("ignored", f"a {state.status} refund that billing did not ask for")
    if order_rules.status_of(order) is not OrderStatus.PAID:
        log.error(
            "a provider reports a refund of an order that is not paid",
            extra={"order_id": str(order.order_id), "status": order.status},
        )
        return Outcome("rejected_state", f"order {order.order_id} is {order.status}")
    refund = Refund(
        refund_id=uuid.uuid4(),
        order_id=order.order_id,
        customer_id=order.customer_id,
        provider=provider,
        provider_refund_id=state.provider_refund_id,
        source=RefundSource.PROVIDER.value,
        amount_minor=state.amount.amount_minor,
        currency=state.amount.currency,
        reason=f"reported by {provider}",
        status=RefundStatus.REQUESTED.value,
        requested_at=state.occurred_at or datetime.now(UTC),
        attempts=0,
        trace_context=trace_carrier(),
    )
    session.add(refund)
    await session.flush()
    log.warning(
        "a refund billing did not ask for: applying it",
        extra={"refund_id": str(refund.refund_id), "order_id": str(order.order_id)},
    )
    return await _settle(session, refund, state, order=order)


async def _settle(
    session: AsyncSession, refund: Refund, state: RefundState, *, order: Order | None = None
) -> Outcome:
    status = RefundStatus(refund.status)
    if status is RefundStatus.SUCCEEDED:
        return Outcome("duplicate", f"refund {refund.refund_id} was applied before")
    if state.amount != _amount(refund):
        log.error(
            "the provider's refund is not the amount billing asked for",
            extra={"refund_id": str(refund.refund_id), "provider_says": str(state.amount)},
        )
        return Outcome(
            "rejected_amount_mismatch",
            f"{refund.provider} says {state.amount}, the refund is {_amount(refund)}",
        )
    if state.status is ProviderRefundStatus.PENDING:
        if status is RefundStatus.REQUESTED:
            refund.status = RefundStatus.PENDING.value
        queries.settled(refund)
        refund.updated_at = datetime.now(UTC)
        return Outcome("not_final", f"refund {refund.refund_id} is pending at {refund.provider}")
    if state.status is ProviderRefundStatus.CANCELED:
        if status is not RefundStatus.FAILED:
            _fail(refund, f"{refund.provider} canceled the refund")
            log.error(
                "the provider canceled a refund: nothing was given back",
                extra={"refund_id": str(refund.refund_id), "order_id": str(refund.order_id)},
            )
        return Outcome("refund_canceled", f"refund {refund.refund_id} was canceled")
    if status is RefundStatus.FAILED:
        log.warning(
            "a refund billing had given up on went through after all",
            extra={"refund_id": str(refund.refund_id)},
        )
    order = order or await orders.lock(session, refund.order_id)
    assert order is not None
    if order_rules.status_of(order) is not OrderStatus.PAID or (
        order.refunded_minor + refund.amount_minor > order.amount_minor
    ):
        log.error(
            "a provider refunded more than the order has left",
            extra={"refund_id": str(refund.refund_id), "order_id": str(order.order_id)},
        )
        return Outcome(
            "rejected_state",
            f"order {order.order_id} is {order.status} with {order.refunded_minor} refunded; "
            f"{_amount(refund)} does not fit",
        )
    events = await _succeed(session, order, refund, datetime.now(UTC))
    return Outcome("refunded", None, events)


async def _succeed(
    session: AsyncSession, order: Order, refund: Refund, now: datetime
) -> tuple[Event, ...]:
    amount = _amount(refund)
    before = order.refunded_minor
    credited = await _post(session, order, refund, before, now)
    full = order_rules.refund(order, amount)
    refund.status = RefundStatus.SUCCEEDED.value
    refund.applied_at = now
    refund.failure_reason = None
    refund.updated_at = now
    queries.settled(refund)
    period_end = None
    shortened: tuple[Event, ...] = ()
    if order.kind == OrderKind.PLAN:
        period_end, event = await shorten_for(
            session,
            order,
            refund_id=refund.refund_id,
            before_minor=before,
            amount_minor=refund.amount_minor,
            now=now,
        )
        if event is not None:
            shortened = await shortening_follows(session, order.customer_id, event)
    refunded = PaymentRefunded(
        order_id=order.order_id,
        checkout_id=order.checkout_id,
        customer_id=order.customer_id,
        refund_id=refund.refund_id,
        plan_id=order_rules.item_of(order),
        kind=OrderKind(order.kind).value,
        provider=order.provider,
        provider_refund_id=refund.provider_refund_id,
        source=refund.source,
        refunded_to="wallet" if order.provider == WALLET else "provider",
        amount=amount,
        refunded_total=Money(amount_minor=order.refunded_minor, currency=order.currency),
        full=full,
        refunded_at=now,
        period_end=period_end,
    )
    log.info(
        "refund applied",
        extra={"refund_id": str(refund.refund_id), "order_id": str(order.order_id), "full": full},
    )
    return (refunded, *shortened, *credited)


async def shortening_follows(
    session: AsyncSession, customer_id: uuid.UUID, event: SubscriptionShortened
) -> tuple[Event, ...]:
    """A subscription's end moved earlier: its due times move with it (access that ended
    is cut off at once), and autopay plans for the new end. The event and what follows."""
    if event.ended:
        await lifecycle.schedule_cut_off(session, event.subscription_id, event.period_end)
    else:
        assert event.access_until is not None
        await lifecycle.schedule(
            session, event.subscription_id, event.period_end, event.access_until
        )
    follows = await autopay.refunded(session, customer_id, event.period_end, ended=event.ended)
    return (event, *follows)


async def _post(
    session: AsyncSession, order: Order, refund: Refund, before_minor: int, now: datetime
) -> tuple[WalletChanged, ...]:
    """The ledger entry of the refund, and the wallet changes it made."""
    amount = _amount(refund)
    key = str(refund.refund_id)
    if order.kind != OrderKind.TOPUP:  # a sale (a plan, traffic): no wallet credit to undo
        source = entries.WALLET_SOURCE if order.provider == WALLET else order.provider
        entry = entries.plan_refunded(
            source=source,
            refund_key=key,
            order_id=order.order_id,
            customer_id=order.customer_id,
            amount=amount,
        )
        moves = await ledger.post_moving(session, entry) or []
        return tuple(wallets.changed(entry, move, now) for move in moves)
    credit = rules.credit_taken(
        credit_of(order), order_rules.amount_of(order), before_minor, amount
    )
    wallet = entries.wallet(order.customer_id, credit.currency)

    def entry_for(written_off: Money | None) -> entries.Entry:
        return entries.topup_refunded(
            provider=order.provider,
            refund_key=key,
            order_id=order.order_id,
            customer_id=order.customer_id,
            amount=amount,
            credit=credit,
            written_off=written_off,
        )

    try:
        entry = entry_for(None)
        balance = await ledger.debit_wallet(session, wallet, entry)
    except ledger.InsufficientFunds as short:
        # Only a refund billing did not ask for gets here (one it asks for is checked
        # first): the money is back with the customer, who spent the credit meanwhile.
        lost = Money(
            amount_minor=credit.amount_minor - short.balance.amount_minor,
            currency=credit.currency,
        )
        log.error(
            "a refunded top-up's credit was spent: the rest is written off",
            extra={"refund_id": key, "order_id": str(order.order_id), "written_off": str(lost)},
        )
        entry = entry_for(lost)
        balance = await ledger.debit_wallet(session, wallet, entry)
    taken = -sum(p.amount_minor for p in entry.postings if p.account == wallet)
    if not taken:
        return ()
    move = ledger.WalletMove(wallet, -taken, balance.amount_minor)
    return (wallets.changed(entry, move, now),)


def _amount(refund: Refund) -> Money:
    return Money(amount_minor=refund.amount_minor, currency=refund.currency)


def _fail(refund: Refund, reason: str) -> None:
    refund.status = RefundStatus.FAILED.value
    refund.failure_reason = reason[:2000]
    refund.updated_at = datetime.now(UTC)
    queries.settled(refund)
