"""The autopay worker: plans each customer's renewal, reminds them, and charges the saved
method when the period is about to end.

For each autopay with something to do, one transaction takes the row's lock, plans what
the payment and refund code recorded (``Autopay.change``), sends the reminder that is due,
and, when the charge is due and autopay is still on, records the charge's order: that
commit is the moment the charge is made. The provider is called after it, outside any
transaction, with the charge's key (one per subscription period and try), and what it
answered is settled as any payment is: access is extended only by a succeeded payment. A
customer who turns autopay off takes the same lock first, so a charge not yet recorded
is never made.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import autopay, orders, payments
from billing.autopay import Change, notification, snapshot, turn_off
from billing.catalog import sold_terms
from billing.domain import autopay as rules
from billing.domain import orders as order_rules
from billing.domain.autopay import OffReason, Schedule, Tell
from billing.domain.orders import OrderKind, OrderStatus
from billing.models import Autopay, Customer, Order, PlanPrice, PlanRow, Subscription
from billing.providers import Providers
from billing.providers.base import (
    CreatedPayment,
    PaymentRequest,
    ProviderError,
    ProviderRejected,
)
from billing.receipts import receipt_for
from billing.texts import localized, say
from chassis import metrics
from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from chassis.worker import RetryPolicy, claim, continuing_trace, gather_bounded, trace_carrier
from contracts.envelope import Event
from contracts.money import Money

log = logging.getLogger(__name__)

_CLAIM = text(
    """
    UPDATE autopays a
    SET lease_until = now() + CAST(:lease AS interval)
    WHERE a.customer_id IN (
        SELECT customer_id FROM autopays
        WHERE enabled
          AND (change IS NOT NULL OR charge_due_at <= now() OR notice_due_at <= now())
          AND (lease_until IS NULL OR lease_until < now())
        ORDER BY updated_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING a.customer_id
    """
)
_CHARGING_AT_ONCE = 8


@dataclass(frozen=True, slots=True)
class Charge:
    """A charge recorded and due to be sent to the provider."""

    order_id: uuid.UUID
    provider: str
    request: PaymentRequest


class AutopayCharges:
    def __init__(
        self,
        providers: Providers,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        schedule: Schedule,
        unavailable_attempts: int,
        unavailable_retry: RetryPolicy,
        pending_timeout: timedelta,
        receipts: bool,
        receipt_vat_code: int,
        grace_hours: int = 0,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 16,
    ) -> None:
        self._providers = providers
        self._sessions = sessions
        self._outbox = outbox
        self._schedule = schedule
        self._unavailable_attempts = unavailable_attempts
        self._unavailable_retry = unavailable_retry
        # A charge the provider leaves pending this long is looked up by the expiry sweep.
        self._pending_timeout = pending_timeout
        self._receipts = receipts
        self._receipt_vat_code = receipt_vat_code
        self._grace_hours = grace_hours
        self._lease = lease
        self.batch_size = batch_size

    async def step(self) -> int:
        rows = await claim(self._sessions, _CLAIM, lease=self._lease, limit=self.batch_size)
        customers = [row["customer_id"] for row in rows]
        await gather_bounded(self._run, customers, at_once=_CHARGING_AT_ONCE)
        return len(customers)

    async def _run(self, customer_id: uuid.UUID) -> None:
        with continuing_trace("billing autopay", None, customer_id=str(customer_id)):
            async with transaction(self._sessions) as session:
                charge = await self._plan(session, customer_id)
            if charge is None:
                return
            provider = self._providers.get(charge.provider)
            result: CreatedPayment | ProviderError
            if provider is None:
                result = ProviderRejected(f"provider {charge.provider} is not configured")
            else:
                try:
                    result = await provider.create_payment(charge.request)
                except ProviderError as exc:
                    result = exc
            async with transaction(self._sessions) as session:
                await self._record(session, customer_id, charge, result)

    async def _plan(self, session: AsyncSession, customer_id: uuid.UUID) -> Charge | None:
        row = await autopay.lock(session, customer_id)
        if row is None or not row.enabled:
            return None
        row.lease_until = None
        now = datetime.now(UTC)
        events: list[Event] = []
        if row.change is not None:
            events += self._replan(row, now)
        if row.enabled and row.notice_due_at is not None and row.notice_due_at <= now:
            row.notice_due_at = None
            events.append(
                notification(
                    row.customer_id,
                    "autopay.upcoming",
                    f"upcoming:{row.period_end.isoformat()}",
                    amount_minor=row.amount_minor,
                    currency=row.currency,
                    method_title=row.method_title or "",
                    charge_at=(row.charge_due_at or now).isoformat(),
                    expires_at=row.period_end.isoformat(),
                )
            )
        charge = None
        if row.enabled and row.charge_due_at is not None and row.charge_due_at <= now:
            charge, stopped = await self._due_charge(session, row, now)
            events += stopped
        if events:
            await self._outbox.add_many(session, events)
        return charge

    def _replan(self, row: Autopay, now: datetime) -> list[Event]:
        """Plan for what happened: a new or moved period, or a declined charge."""
        change = Change(row.change or Change.MOVED)
        row.change = None
        if change is Change.DECLINED:
            return self._declined(row, now)
        if row.charge_order_id is None:
            row.charge_due_at = self._schedule.charge_at(row.period_end, now)
        row.notice_due_at = self._schedule.notice_at(row.period_end, now)
        events: list[Event] = [snapshot(row, now)]
        if change is Change.ENABLED:
            events.append(
                notification(
                    row.customer_id,
                    "autopay.enabled",
                    f"enabled:{row.revision}",
                    amount_minor=row.amount_minor,
                    currency=row.currency,
                    method_title=row.method_title or "",
                    charge_at=(row.charge_due_at or now).isoformat(),
                    period_days=row.period_days,
                    period_months=row.period_months,
                )
            )
        return events

    def _declined(self, row: Autopay, now: datetime) -> list[Event]:
        reason = row.decline_reason or "unknown"
        row.decline_reason = None
        decline = rules.after_decline(row.declines, reason, self._schedule, now)
        row.declines = decline.declines
        metrics.WORK_OUTCOMES.labels("billing", "autopay_charge", "declined").inc()
        log.info(
            "an autopay charge was declined",
            extra={"customer_id": str(row.customer_id), "reason": reason},
        )
        events: list[Event]
        if decline.stop is not None:
            events = list(turn_off(row, decline.stop, now, tell=decline.tell is Tell.STOPPED))
        else:
            row.charge_due_at = decline.retry_at
            events = [snapshot(row, now)]
        if decline.tell is Tell.CHARGE_FAILED:
            events.append(
                notification(
                    row.customer_id,
                    "autopay.charge_failed",
                    f"failed:{row.period_end.isoformat()}",
                    amount_minor=row.amount_minor,
                    currency=row.currency,
                    reason=reason,
                    retries_left=decline.retries_left,
                    retry_at=(decline.retry_at or row.period_end).isoformat(),
                    expires_at=row.period_end.isoformat(),
                )
            )
        return events

    async def _due_charge(
        self, session: AsyncSession, row: Autopay, now: datetime
    ) -> tuple[Charge | None, list[Event]]:
        """Record the charge that is due, or stop autopay when the plan no longer allows it."""
        subscription = await session.get(Subscription, row.subscription_id)
        if subscription is not None and subscription.period_end != row.period_end:
            # The end moved without a word here (a race with a payment): plan for the real one.
            row.period_end = subscription.period_end
            row.change = Change.MOVED.value
            return None, self._replan(row, now)
        plan = await session.get(PlanRow, row.plan_id)
        price = await session.get(PlanPrice, (row.plan_id, row.currency))
        verdict = rules.renewal_price(
            autopay.amount_of(row),
            Money(amount_minor=price.amount_minor, currency=price.currency) if price else None,
            plan_active=plan is not None
            and plan.active
            and (plan.duration_days, plan.duration_months) == (row.period_days, row.period_months),
        )
        if isinstance(verdict, OffReason) or plan is None:
            reason = verdict if isinstance(verdict, OffReason) else OffReason.PLAN_UNAVAILABLE
            log.info(
                "autopay stops: the plan cannot be renewed as agreed",
                extra={"customer_id": str(row.customer_id), "reason": reason.value},
            )
            return None, list(turn_off(row, reason, now, tell=True))
        order = await self._order_for(session, row, plan, verdict)
        if order.status != OrderStatus.PENDING:
            return None, []  # settled meanwhile; its settlement planned what follows
        row.charge_order_id = order.order_id
        row.charge_due_at = None
        row.updated_at = now
        return Charge(order.order_id, order.provider, self._request(order, row)), []

    async def _order_for(
        self, session: AsyncSession, row: Autopay, plan: PlanRow, price: Money
    ) -> Order:
        """This period's and try's charge order; the same one again after an unknown
        outcome, so that the provider is asked with the same key."""
        checkout_id = rules.charge_key(row.subscription_id, row.period_end, row.declines)
        order_id = orders.order_id_for(checkout_id)
        existing = await orders.lock(session, order_id)
        if existing is not None:
            return existing
        # The customer's language and receipt address as they are now, not at consent.
        customer = await session.get(Customer, row.customer_id)
        language = customer.language if customer is not None else row.language
        email = (customer.email if customer is not None else None) or row.receipt_email
        order = Order(
            order_id=order_id,
            checkout_id=checkout_id,
            customer_id=row.customer_id,
            kind=OrderKind.PLAN.value,
            plan_id=plan.plan_id,
            language=language,
            title=localized(plan.titles, language)[:128],
            amount_minor=price.amount_minor,
            currency=price.currency,
            grace_hours=self._grace_hours,
            **sold_terms(plan),
            provider=row.provider,
            receipt_email=email if self._receipts else None,
            autopay_charge=True,
            status=OrderStatus.PENDING.value,
            checkout_attempts=0,
            expiry_checks=0,
            refunded_minor=0,
            checkout_correlation_id=str(checkout_id),
            trace_context=trace_carrier(),
        )
        session.add(order)
        await session.flush()
        return order

    def _request(self, order: Order, row: Autopay) -> PaymentRequest:
        assert row.method_id is not None
        receipt = None
        if order.receipt_email is not None:
            receipt = receipt_for(
                order.receipt_email,
                order.title,
                order_rules.amount_of(order),
                vat_code=self._receipt_vat_code,
            )
        description = say(
            "renewal-description", order.language, title=order.title, order=order.order_id.hex[:8]
        )
        return PaymentRequest(
            order_id=order.order_id,
            idempotence_key=str(order.checkout_id),
            amount=order_rules.amount_of(order),
            description=description,
            title=say("invoice-title", order.language, title=order.title)[:32],
            customer_id=order.customer_id,
            return_url="",
            saved_method_id=row.method_id,
            receipt=receipt,
            attempt=row.unavailable_attempts + 1,
            language=order.language,
        )

    async def _record(
        self,
        session: AsyncSession,
        customer_id: uuid.UUID,
        charge: Charge,
        result: CreatedPayment | ProviderError,
    ) -> None:
        """What the provider answered: settled as any payment, or the charge tried again."""
        now = datetime.now(UTC)
        order = await orders.lock(session, charge.order_id)
        assert order is not None
        events: list[Event] = []
        if isinstance(result, CreatedPayment):
            outcome = "sent"
            if order.provider_payment_id is None:
                order.provider_payment_id = result.provider_payment_id
            if result.settled is not None:
                # Succeeded or declined at once: settled as its notification would be, which
                # extends the subscription (and moves autopay on) or records the decline.
                settled = await payments.settle(session, charge.provider, result.settled)
                events += settled.events
                outcome = settled.outcome
            elif order.payment_expires_at is None:
                order.payment_expires_at = now + self._pending_timeout
        row = await autopay.lock(session, customer_id)
        if row is None or not row.enabled or row.charge_order_id != order.order_id:
            row = None  # turned off, or settled and planned on meanwhile
        if isinstance(result, ProviderRejected):
            outcome = "rejected"
            order_rules.fail(order, "provider_rejected", f"{charge.provider}: {result}")
            log.warning(
                "the provider refused an autopay charge; autopay stops",
                extra={"customer_id": str(customer_id), "error": str(result)},
            )
            if row is not None:
                events += turn_off(row, OffReason.PROVIDER_REJECTED, now, tell=True)
        elif isinstance(result, ProviderError):
            outcome = "retry"
            if row is not None:
                self._unavailable(row, result, now)
        elif row is not None:
            row.unavailable_attempts = 0
        if events:
            await self._outbox.add_many(session, events)
        metrics.WORK_OUTCOMES.labels("billing", "autopay_charge", outcome).inc()

    def _unavailable(self, row: Autopay, error: ProviderError, now: datetime) -> None:
        """No answer: asked again with the same key, a bounded number of times; then this
        try counts as declined and the next one has a key of its own."""
        row.unavailable_attempts += 1
        if row.unavailable_attempts < self._unavailable_attempts:
            delay = self._unavailable_retry.delay(row.unavailable_attempts)
            retry_after = getattr(error, "retry_after_s", None)
            if retry_after:
                delay = max(delay, timedelta(seconds=retry_after))
            row.charge_due_at = now + delay
            log.warning(
                "the provider did not answer an autopay charge; asking again with its key",
                extra={
                    "customer_id": str(row.customer_id),
                    "attempt": row.unavailable_attempts,
                    "delay_s": delay.total_seconds(),
                    "error": repr(error),
                },
            )
            return
        log.error(
            "the provider did not answer an autopay charge after every attempt",
            extra={"customer_id": str(row.customer_id), "error": repr(error)},
        )
        row.charge_order_id = None
        row.unavailable_attempts = 0
        row.change = Change.DECLINED.value
        row.decline_reason = "provider_unavailable"
