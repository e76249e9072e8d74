"""Provider notifications: recorded as received, verified by a worker, then settled.

The consumer only records each notification (the body's exact bytes, the headers, the
sender), already leased to this process, and hands it to the verifier after commit. The
verifier asks the notification's provider whether it is genuine, outside any transaction
(a signature check, a key fetch, or a GET of the payment), then settles what it
established and records the verdict in one transaction with the outbox. A provider that
cannot answer delays only its own notifications, which are tried again with backoff:
a notification the gateway acknowledged is never dropped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import bindparam, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import payments, refunds
from billing.models import ProviderNotification
from billing.providers import Providers
from billing.providers.base import (
    Notification,
    PaymentState,
    ProviderError,
    ProviderUnavailable,
    RefundState,
    Refused,
    Verdict,
)
from chassis.db import bound, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.worker import (
    Handoff,
    RetryPolicy,
    claim,
    continuing_trace,
    gather_bounded,
    trace_carrier,
)
from contracts.bot import StarsPaymentReceived
from contracts.gateway import PaymentNotificationReceived, ProviderNotificationReceived

log = logging.getLogger(__name__)

NOTIFICATIONS = Counter(
    "payment_notifications_total",
    "Payment notifications billing verified, by provider and verdict (paid, canceled, "
    "refunded, refund_canceled, duplicate, not_final, ignored, rejected_*): alert on a "
    "wave of rejections",
    ["provider", "outcome"],
)
ACCEPTED = frozenset(
    {
        "paid",
        "canceled",
        "refunded",
        "refund_canceled",
        "duplicate",
        "not_final",
        "declined_attempt",
        "ignored",
    }
)
_LEASE = timedelta(seconds=60)
_CLAIM_INTERVAL_S = 1.0
# A batch settles in one transaction, but its providers are asked a few at a time: an HTTP
# pool costs CPU per pooled connection on every call (see chassis.http).
_ASKING_AT_ONCE = 8
_LEFT_OUT_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})


@dataclass(frozen=True, slots=True)
class Received:
    """A recorded notification on its way to the verifier."""

    notification_id: str
    provider: str
    body: bytes
    headers: dict[str, str]
    remote_address: str | None
    received_at: datetime
    attempts: int
    correlation_id: str | None
    trace_context: dict[str, str] | None

    def notification(self) -> Notification:
        return Notification(
            provider=self.provider,
            body=self.body,
            headers=self.headers,
            remote_address=self.remote_address or "",
            received_at=self.received_at,
        )


# The statements run for every notification are built once (building one costs more CPU
# than running it).
_RECORD = (
    insert(ProviderNotification)
    .values(
        **bound(
            "notification_id",
            "provider",
            "body",
            "headers",
            "reference",
            "remote_address",
            "received_at",
            "due_at",
            "lease_until",
            "correlation_id",
            "trace_context",
        ),
        status="received",
        attempts=1,
    )
    .on_conflict_do_nothing(index_elements=[ProviderNotification.notification_id])
    .returning(ProviderNotification.notification_id)
)
_MARK_DONE = (
    update(ProviderNotification)
    .where(
        ProviderNotification.notification_id == bindparam("settled_id"),
        ProviderNotification.status == "received",
    )
    .values(
        status="done",
        outcome=bindparam("verdict_outcome"),
        detail=bindparam("verdict_detail"),
        verified_status=bindparam("verdict_status"),
        provider_payment_id=bindparam("verdict_payment_id"),
        due_at=None,
        lease_until=None,
        checked_at=bindparam("verdict_checked_at"),
    )
    .returning(ProviderNotification.notification_id)
)


class NotificationInbox:
    """The consumer side: every kind of notification becomes one recorded row."""

    def __init__(self, handoff: Handoff[Received]) -> None:
        self._handoff = handoff

    async def webhook(self, event: ProviderNotificationReceived, ctx: MessageContext) -> None:
        headers = {k: v for k, v in event.headers.items() if k not in _LEFT_OUT_HEADERS}
        await self._record(
            ctx,
            event.provider,
            event.body,
            headers,
            event.reference,
            str(event.remote_address),
            event.received_at,
        )

    async def legacy_webhook(self, event: PaymentNotificationReceived, ctx: MessageContext) -> None:
        # Written by a gateway from before v2: the parsed body is all there is. YooKassa's
        # notifications are verified by fetching the payment, so its bytes do not matter.
        body = json.dumps(event.body, ensure_ascii=False, separators=(",", ":")).encode()
        await self._record(
            ctx,
            event.provider,
            body,
            {},
            event.provider_payment_id,
            str(event.remote_address),
            event.received_at,
        )

    async def stars_payment(self, event: StarsPaymentReceived, ctx: MessageContext) -> None:
        await self._record(
            ctx,
            "telegram_stars",
            event.model_dump_json().encode(),
            {},
            event.telegram_payment_charge_id,
            None,
            event.received_at,
        )

    async def _record(
        self,
        ctx: MessageContext,
        provider: str,
        body: bytes,
        headers: dict[str, str],
        reference: str | None,
        remote_address: str | None,
        received_at: datetime,
    ) -> None:
        now = datetime.now(UTC)
        received = Received(
            notification_id=ctx.envelope.id,
            provider=provider,
            body=body,
            headers=headers,
            remote_address=remote_address,
            received_at=received_at,
            attempts=1,
            correlation_id=ctx.envelope.correlationid or ctx.envelope.id,
            trace_context=trace_carrier(),
        )
        recorded = await ctx.session.scalar(
            _RECORD,
            {
                "notification_id": received.notification_id,
                "provider": provider,
                "body": body,
                "headers": headers,
                "reference": reference[:128] if reference else None,
                "remote_address": remote_address,
                "received_at": received_at,
                "due_at": now,
                "lease_until": now + _LEASE,
                "correlation_id": received.correlation_id,
                "trace_context": received.trace_context,
            },
        )
        if recorded is not None:
            ctx.after_commit(lambda: self._handoff.put(received))


_CLAIM = text(
    """
    UPDATE provider_notifications n
    SET lease_until = now() + CAST(:lease AS interval), attempts = n.attempts + 1
    WHERE n.notification_id IN (
        SELECT notification_id FROM provider_notifications
        WHERE status = 'received' AND due_at <= now()
          AND (lease_until IS NULL OR lease_until < now())
        ORDER BY due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING n.notification_id, n.provider, n.body, n.headers, n.remote_address,
        n.received_at, n.attempts, n.correlation_id, n.trace_context
    """
)
_Settled = tuple[Received, payments.Outcome, PaymentState | RefundState | None]


class NotificationVerifier:
    """The worker: verifies each recorded notification with its provider and settles it."""

    def __init__(
        self,
        providers: Providers,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        handoff: Handoff[Received],
        *,
        retry: RetryPolicy,
        batch_size: int = 50,
    ) -> None:
        self._providers = providers
        self._sessions = sessions
        self._outbox = outbox
        self._handoff = handoff
        self._retry = retry
        self.batch_size = batch_size
        self._claimed_at = -_CLAIM_INTERVAL_S

    async def step(self) -> int:
        batch = self._handoff.take(self.batch_size)
        # Rows are claimed only for what the handoff cannot bring (a lease that ran out, a
        # retry that came due), at most once a second: not a query after every handoff.
        if not batch and time.monotonic() - self._claimed_at >= _CLAIM_INTERVAL_S:
            self._claimed_at = time.monotonic()
            rows = await claim(self._sessions, _CLAIM, lease=_LEASE, limit=self.batch_size)
            batch = [Received(**row) for row in rows]
        if not batch:
            return 0
        # The providers are asked concurrently, outside any transaction; what they said is
        # then settled in one transaction for the whole batch.
        verdicts = await gather_bounded(self._verdict, batch, at_once=_ASKING_AT_ONCE)
        work = list(zip(batch, verdicts, strict=True))
        try:
            async with transaction(self._sessions) as session:
                settled = [await self._settle(session, item, verdict) for item, verdict in work]
        except Exception:
            if len(work) == 1:
                raise
            # One of them failed the transaction: each is settled on its own, so that the
            # rest do not wait for their leases to run out.
            log.warning("settling a batch of notifications failed; settling them one by one")
            settled = [await self._settle_alone(item, verdict) for item, verdict in work]
        for result in settled:
            if result is not None:
                self._report(*result)
        return len(batch)

    async def _verdict(self, item: Received) -> Verdict | ProviderUnavailable:
        """What the provider says of the notification; ``ProviderUnavailable`` to try later."""
        with continuing_trace(
            "billing verify notification", item.trace_context, provider=item.provider
        ):
            provider = self._providers.get(item.provider)
            if provider is None:
                return Refused("rejected_provider", f"no provider {item.provider} configured")
            try:
                return await provider.verify(item.notification())
            except ProviderUnavailable as exc:
                return exc
            except ProviderError as exc:
                return Refused("rejected_by_provider", str(exc))

    async def _settle_alone(self, item: Received, verdict: Verdict | Exception) -> _Settled | None:
        try:
            async with transaction(self._sessions) as session:
                return await self._settle(session, item, verdict)
        except Exception:
            # Ours, not the provider's: its lease runs out and it is tried again.
            log.exception(
                "settling a notification failed", extra={"notification_id": item.notification_id}
            )
            return None

    async def _settle(
        self, session: AsyncSession, item: Received, verdict: Verdict | Exception
    ) -> _Settled | None:
        """Settle one notification, or put it off; None when there is nothing to report."""
        if isinstance(verdict, Exception):
            await self._again(session, item, verdict)
            return None
        try:
            return await self._record(session, item, verdict)
        except refunds.RefundInFlight as exc:
            # Raised before anything is written: the transaction goes on.
            await self._again(session, item, exc)
            return None

    async def _record(
        self, session: AsyncSession, item: Received, verdict: Verdict
    ) -> _Settled | None:
        """Apply the verdict and mark the notification done, with the events it implies.

        No lock is taken on the notification first: applying a verdict twice changes nothing
        the second time (the order's lock orders them, and the payment or refund is found
        applied), so when another replica marked it done meanwhile (its lease ran out here)
        this one writes nothing and reports nothing.
        """
        with continuing_trace(
            "billing settle notification", item.trace_context, provider=item.provider
        ):
            outcome, fact = await self._apply(session, item.provider, verdict)
            marked = await session.scalar(
                _MARK_DONE,
                {
                    "settled_id": item.notification_id,
                    "verdict_outcome": outcome.outcome,
                    "verdict_detail": (outcome.detail or "")[:2000] or None,
                    "verdict_status": _status_of(fact),
                    "verdict_payment_id": fact.provider_payment_id if fact else None,
                    "verdict_checked_at": datetime.now(UTC),
                },
            )
            if marked is None:
                return None
            if outcome.events:
                await self._outbox.add_many(
                    session, list(outcome.events), correlation_id=item.correlation_id
                )
        return item, outcome, fact

    async def _apply(
        self, session: AsyncSession, provider: str, verdict: Verdict
    ) -> tuple[payments.Outcome, PaymentState | RefundState | None]:
        if isinstance(verdict, Refused):
            return payments.Outcome(verdict.outcome, verdict.detail), None
        fact = verdict.fact
        if isinstance(fact, PaymentState):
            return await payments.settle(session, provider, fact), fact
        return await refunds.apply(session, provider, fact), fact

    async def _again(self, session: AsyncSession, item: Received, error: Exception) -> None:
        delay = self._retry.delay(item.attempts)
        retry_after = getattr(error, "retry_after_s", None)
        if retry_after:
            delay = max(delay, timedelta(seconds=retry_after))
        log.warning(
            "cannot settle a notification yet; trying again",
            extra={
                "provider": item.provider,
                "notification_id": item.notification_id,
                "attempt": item.attempts,
                "delay_s": delay.total_seconds(),
                "error": repr(error),
            },
        )
        NOTIFICATIONS.labels(item.provider, "retry").inc()
        await session.execute(
            update(ProviderNotification)
            .where(
                ProviderNotification.notification_id == item.notification_id,
                ProviderNotification.status == "received",
            )
            .values(
                due_at=datetime.now(UTC) + delay,
                lease_until=None,
                attempts=item.attempts + 1,
                detail=repr(error)[:2000],
            )
        )

    @staticmethod
    def _report(
        item: Received, outcome: payments.Outcome, fact: PaymentState | RefundState | None
    ) -> None:
        NOTIFICATIONS.labels(item.provider, outcome.outcome).inc()
        accepted = outcome.outcome in ACCEPTED
        extra: dict[str, Any] = {
            "provider": item.provider,
            "notification_id": item.notification_id,
            "outcome": outcome.outcome,
            "detail": outcome.detail,
            "remote_address": item.remote_address,
        }
        if fact is not None:
            extra["provider_payment_id"] = fact.provider_payment_id
        log.log(
            logging.INFO if accepted else logging.WARNING,
            "payment notification %s",
            outcome.outcome,
            extra=extra,
        )


def _status_of(fact: PaymentState | RefundState | None) -> str | None:
    if fact is None:
        return None
    prefix = "refund_" if isinstance(fact, RefundState) else ""
    return f"{prefix}{fact.status.value}"
