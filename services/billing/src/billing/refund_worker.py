"""The refund worker: asks each requested refund of its provider, outside any transaction.

Like the checkout worker: a due refund is claimed with a lease, the provider is called
with billing's refund id as the idempotence key (a retry after a lost answer names the
refund the first try made), and the answer is recorded in one transaction with its
events. A refund that went through is applied at once (``billing.refunds.apply``); a
pending one waits for the provider's notification. A provider that does not answer is
asked again with backoff, ``attempts`` times in all; then, as when it refuses, the refund
fails with the reason, for an operator to look at.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import refund_queries as queries
from billing import refunds
from billing.domain.refunds import RefundStatus
from billing.providers import Providers
from billing.providers.base import ProviderRejected, ProviderUnavailable, RefundRequest, RefundState
from billing.receipts import receipt_for
from billing.texts import say
from chassis import metrics
from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from chassis.worker import RetryPolicy, continuing_trace
from contracts.money import Money

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DueRefund:
    refund_id: uuid.UUID
    order_id: uuid.UUID
    customer_id: uuid.UUID
    provider: str
    amount_minor: int
    currency: str
    attempts: int
    correlation_id: str | None
    trace_context: dict[str, str] | None
    provider_payment_id: str | None
    provider_charge_id: str | None
    language: str
    title: str
    receipt_email: str | None
    telegram_user_id: int | None

    @property
    def amount(self) -> Money:
        return Money(amount_minor=self.amount_minor, currency=self.currency)


class RefundPayouts:
    """The worker that asks each due refund of its provider and records the answer."""

    def __init__(
        self,
        providers: Providers,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        attempts: int,
        retry: RetryPolicy,
        receipt_vat_code: int = 1,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 8,
    ) -> None:
        self._providers = providers
        self._sessions = sessions
        self._outbox = outbox
        self._receipt_vat_code = receipt_vat_code
        self._attempts = attempts
        self._retry = retry
        self._lease = lease
        self.batch_size = batch_size

    async def step(self) -> int:
        rows = await queries.claim_due(self._sessions, lease=self._lease, limit=self.batch_size)
        due = [DueRefund(**row) for row in rows]
        await asyncio.gather(*(self._refund(refund) for refund in due))
        return len(due)

    async def _refund(self, due: DueRefund) -> None:
        with continuing_trace("billing refund", due.trace_context, refund_id=str(due.refund_id)):
            provider = self._providers.get(due.provider)
            if provider is None:
                await self._fail(due, f"provider {due.provider} is not configured")
                return
            if due.provider_payment_id is None:
                await self._fail(due, f"order {due.order_id} has no {due.provider} payment")
                return
            try:
                state = await provider.refund(self._request(due, due.provider_payment_id))
            except ProviderRejected as exc:
                await self._fail(due, f"{due.provider} refused: {exc}")
            except ProviderUnavailable as exc:
                if due.attempts >= self._attempts:
                    await self._fail(
                        due, f"{due.provider} did not answer {due.attempts} times: {exc}"
                    )
                else:
                    await self._again(due, exc)
            else:
                await self._record(due, state)

    def _request(self, due: DueRefund, provider_payment_id: str) -> RefundRequest:
        # A refund of a payment that had a receipt has one of its own (a "return" receipt).
        receipt = None
        if due.receipt_email is not None:
            receipt = receipt_for(
                due.receipt_email, due.title, due.amount, vat_code=self._receipt_vat_code
            )
        return RefundRequest(
            idempotence_key=str(due.refund_id),
            provider_payment_id=provider_payment_id,
            amount=due.amount,
            description=say("refund-description", due.language, order=due.order_id.hex[:8]),
            charge_id=due.provider_charge_id,
            telegram_user_id=due.telegram_user_id,
            receipt=receipt,
        )

    async def _record(self, due: DueRefund, state: RefundState) -> None:
        async with transaction(self._sessions) as session:
            outcome = await refunds.apply(session, due.provider, state, refund_id=due.refund_id)
            if outcome.events:
                await self._outbox.add_many(
                    session, list(outcome.events), correlation_id=due.correlation_id
                )
        metrics.WORK_OUTCOMES.labels("billing", "refund", "done").inc()
        log.info(
            "refund answered",
            extra={
                "refund_id": str(due.refund_id),
                "provider": due.provider,
                "provider_refund_id": state.provider_refund_id,
                "outcome": outcome.outcome,
                "detail": outcome.detail,
            },
        )

    async def _fail(self, due: DueRefund, reason: str) -> None:
        async with transaction(self._sessions) as session:
            refund = await queries.lock(session, due.refund_id)
            if refund is None or refund.status != RefundStatus.REQUESTED:
                return  # settled meanwhile (a replica whose lease this one outlived)
            refund.status = RefundStatus.FAILED.value
            refund.failure_reason = reason[:2000]
            queries.settled(refund)
        metrics.WORK_OUTCOMES.labels("billing", "refund", "failed").inc()
        log.error(
            "refund failed: nothing was given back",
            extra={
                "refund_id": str(due.refund_id),
                "order_id": str(due.order_id),
                "reason": reason,
            },
        )

    async def _again(self, due: DueRefund, error: ProviderUnavailable) -> None:
        delay = self._retry.delay(due.attempts)
        if error.retry_after_s:
            delay = max(delay, timedelta(seconds=error.retry_after_s))
        log.warning(
            "provider unavailable; the refund will be asked again with the same key",
            extra={
                "refund_id": str(due.refund_id),
                "provider": due.provider,
                "attempt": due.attempts,
                "delay_s": delay.total_seconds(),
                "error": repr(error),
            },
        )
        metrics.WORK_OUTCOMES.labels("billing", "refund", "retry").inc()
        async with transaction(self._sessions) as session:
            await queries.due_again(session, due.refund_id, delay)
