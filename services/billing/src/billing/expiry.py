"""Payments that ran out without a word from their provider.

Crypto Pay and WATA send nothing when an invoice or a link expires, and any provider's
notification can be lost. Once an order's payment is past its expiry (and a grace, for
the provider's clock), this worker asks the provider what became of it, outside any
transaction, and settles the answer as a notification would: paid after all (a lost
notification: the customer gets what they paid for), canceled (the customer is told by
the notifier), or still open, asked again later. A payment the provider no longer knows,
or keeps open past the last check, is closed here as expired; should money still arrive
for it, it is paid then ("paid after it was canceled"), never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import orders, payments
from billing.providers import Providers
from billing.providers.base import (
    PaymentNotFound,
    PaymentState,
    PaymentStatus,
    ProviderError,
    ProviderUnavailable,
)
from chassis import metrics
from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from chassis.worker import claim, gather_bounded

log = logging.getLogger(__name__)

_CLAIM = text(
    """
    UPDATE orders o
    SET expiry_lease_until = now() + CAST(:lease AS interval),
        expiry_checks = o.expiry_checks + 1
    WHERE o.order_id IN (
        SELECT order_id FROM orders
        WHERE status = 'pending' AND payment_expires_at IS NOT NULL
          AND provider_payment_id IS NOT NULL
          AND payment_expires_at < now() - CAST(:grace AS interval)
          AND (expiry_lease_until IS NULL OR expiry_lease_until < now())
        ORDER BY payment_expires_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING o.order_id, o.provider, o.provider_payment_id, o.expiry_checks
    """
)
_ASKING_AT_ONCE = 8


@dataclass(frozen=True, slots=True)
class Overdue:
    order_id: UUID
    provider: str
    provider_payment_id: str
    expiry_checks: int


class ExpiredPayments:
    """The worker that closes the payments their providers let expire in silence."""

    def __init__(
        self,
        providers: Providers,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        grace: timedelta,
        recheck: timedelta,
        checks: int,
        batch_size: int = 32,
    ) -> None:
        self._providers = providers
        self._sessions = sessions
        self._outbox = outbox
        self._grace = grace
        self._recheck = recheck  # the lease is the pause before the next check
        self._checks = checks
        self.batch_size = batch_size

    async def step(self) -> int:
        rows = await claim(
            self._sessions,
            _CLAIM,
            lease=self._recheck,
            limit=self.batch_size,
            grace=self._grace,
        )
        overdue = [Overdue(**row) for row in rows]
        if not overdue:
            return 0
        answers = await gather_bounded(self._ask, overdue, at_once=_ASKING_AT_ONCE)
        async with transaction(self._sessions) as session:
            for order, answer in zip(overdue, answers, strict=True):
                await self._settle(session, order, answer)
        return len(overdue)

    async def _ask(self, order: Overdue) -> PaymentState | Exception | None:
        """The payment as its provider has it; None when the provider has no such payment."""
        provider = self._providers.get(order.provider)
        if provider is None:
            return ProviderUnavailable(f"no provider {order.provider} configured")
        try:
            return await provider.fetch_payment(order.provider_payment_id)
        except PaymentNotFound:
            return None
        except ProviderError as exc:
            return exc

    async def _settle(
        self, session: AsyncSession, order: Overdue, answer: PaymentState | Exception | None
    ) -> None:
        if isinstance(answer, Exception):
            # Asked again when the lease runs out; the order stays pending meanwhile.
            log.warning(
                "cannot ask a provider about an expired payment yet",
                extra={"order_id": str(order.order_id), "error": repr(answer)},
            )
            metrics.WORK_OUTCOMES.labels("billing", "payment_expiry", "retry").inc()
            return
        still_open = answer is not None and (
            answer.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED)
            or not answer.final
        )
        if answer is not None and not still_open:
            outcome = await payments.settle(session, order.provider, answer)
        elif still_open and order.expiry_checks < self._checks:
            metrics.WORK_OUTCOMES.labels("billing", "payment_expiry", "open").inc()
            return
        else:
            outcome = await self._close(session, order, "not known" if answer is None else "open")
        if outcome.events:
            await self._outbox.add_many(session, list(outcome.events))
        metrics.WORK_OUTCOMES.labels("billing", "payment_expiry", outcome.outcome).inc()
        log.info(
            "expired payment settled",
            extra={
                "order_id": str(order.order_id),
                "provider": order.provider,
                "outcome": outcome.outcome,
                "detail": outcome.detail,
            },
        )

    async def _close(self, session: AsyncSession, order: Overdue, why: str) -> payments.Outcome:
        """The provider has no such payment, or keeps it open past the last check."""
        locked = await orders.lock(session, order.order_id)
        if locked is None:
            return payments.Outcome("rejected_unknown_order")
        settlement = await payments.cancel(
            session,
            locked,
            provider_payment_id=order.provider_payment_id,
            canceled_at=datetime.now(UTC),
            party="merchant",
            reason="expired",
        )
        detail = f"the provider's payment is {why} after {order.expiry_checks} checks"
        return payments.Outcome(settlement.outcome, detail, settlement.events)
