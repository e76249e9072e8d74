"""Deliveries: events become messages to customers, each sent at most once.

Handlers only record a delivery (keyed by the event that caused it) in the inbox
transaction. The sender claims pending deliveries of customers whose contact is known,
marks them ``sending`` in a committed transaction, calls Telegram, and records the result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import TextClause, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import metrics
from chassis.db import bound, transaction
from chassis.messaging.consumer import MessageContext
from chassis.worker import RetryPolicy, Wakeup, claim, continuing_trace, trace_carrier
from contracts.billing import PaymentCanceled, PaymentRefunded
from contracts.bot import CustomerLanguageChanged, CustomerRegistered, CustomerRemindersChanged
from contracts.notifier import SendNotification
from contracts.provisioning import (
    AccessGranted,
    AccessLinkIssued,
    AccessProvisioningFailed,
    TrafficThresholdReached,
)
from notifier.models import Contact, Delivery
from notifier.telegram import (
    TelegramClient,
    TelegramError,
    TelegramRefused,
    TelegramRetryAfter,
    TelegramUncertain,
)
from notifier.templates import OPTIONAL, Params, UnknownTemplate, render, reply_markup

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=1)


class Recorder:
    """The consumer side: contacts and deliveries, written in the inbox transaction."""

    def __init__(self, wakeup: Wakeup) -> None:
        self._wakeup = wakeup

    async def customer_registered(self, event: CustomerRegistered, ctx: MessageContext) -> None:
        await ctx.session.execute(
            insert(Contact)
            .values(customer_id=event.customer_id, chat_id=event.chat_id, language=event.language)
            .on_conflict_do_update(
                index_elements=[Contact.customer_id], set_={"chat_id": event.chat_id}
            )
        )
        ctx.after_commit(self._wakeup.set)  # deliveries may have waited for this contact

    async def language_changed(self, event: CustomerLanguageChanged, ctx: MessageContext) -> None:
        await ctx.session.execute(
            update(Contact)
            .where(Contact.customer_id == event.customer_id)
            .values(language=event.language, updated_at=datetime.now(UTC))
        )

    async def reminders_changed(self, event: CustomerRemindersChanged, ctx: MessageContext) -> None:
        await ctx.session.execute(
            update(Contact)
            .where(Contact.customer_id == event.customer_id)
            .values(reminders=event.reminders, updated_at=datetime.now(UTC))
        )

    async def access_granted(self, event: AccessGranted, ctx: MessageContext) -> None:
        params: dict[str, str | int] = {
            # The stable link, where the platform has one: it outlives this panel user.
            "subscription_url": event.stable_url or event.subscription_url,
            # The paid end, as "My subscription" shows it (the panel's expiry adds the grace).
            "expires_at": (event.paid_until or event.expires_at).isoformat(),
            "traffic_limit_bytes": event.traffic_limit_bytes,
        }
        await self._record(ctx, event.customer_id, "access.granted", params)

    async def link_issued(self, event: AccessLinkIssued, ctx: MessageContext) -> None:
        """A revoked link's replacement reaches the customer; a first link arrives with
        the access message instead."""
        if not event.replaced or event.stable_url is None:
            return
        params: dict[str, str | int] = {"subscription_url": event.stable_url}
        await self._record(ctx, event.customer_id, "access.link_replaced", params)

    async def access_failed(self, event: AccessProvisioningFailed, ctx: MessageContext) -> None:
        template = "access.delayed" if event.retryable else "access.failed"
        await self._record(ctx, event.customer_id, template, {})

    async def traffic_threshold(self, event: TrafficThresholdReached, ctx: MessageContext) -> None:
        """80 % or 100 % of the allowance used. Provisioning emits each threshold of an
        allowance once; the delivery is keyed by the event, so a redelivery sends nothing."""
        params: dict[str, str | int] = {
            "threshold": event.threshold,
            "used_bytes": event.used_traffic_bytes,
            "traffic_limit_bytes": event.traffic_limit_bytes,
            "left_bytes": max(event.traffic_limit_bytes - event.used_traffic_bytes, 0),
            "monthly": "yes" if event.traffic_reset == "month" else "no",
        }
        await self._record(ctx, event.customer_id, "traffic.threshold", params)

    async def payment_canceled(self, event: PaymentCanceled, ctx: MessageContext) -> None:
        if event.autopay:
            # An automatic renewal's charge: billing tells the customer itself, with what
            # happens next (`autopay.charge_failed`).
            log.debug(
                "autopay charge canceled; billing notifies", extra={"order_id": str(event.order_id)}
            )
            return
        params: dict[str, str | int] = {
            "amount_minor": event.amount.amount_minor,
            "currency": event.amount.currency,
            "reason": event.cancellation_reason,
        }
        await self._record(ctx, event.customer_id, "payment.canceled", params)

    async def payment_refunded(self, event: PaymentRefunded, ctx: MessageContext) -> None:
        # ``access``: what the refund did to a plan's access (still ``until`` its new end,
        # or ``ended``); ``unchanged`` for a top-up, whose credit left the wallet instead.
        if event.period_end is None:
            access, until = "unchanged", event.refunded_at
        else:
            ended = event.period_end <= event.refunded_at
            access, until = ("ended" if ended else "until"), event.period_end
        params: dict[str, str | int] = {
            "amount_minor": event.amount.amount_minor,
            "currency": event.amount.currency,
            "refunded_to": event.refunded_to,
            "access": access,
            "expires_at": until.isoformat(),
        }
        await self._record(ctx, event.customer_id, "payment.refunded", params)

    async def send_notification(self, command: SendNotification, ctx: MessageContext) -> None:
        await self._record(
            ctx,
            command.customer_id,
            command.template,
            dict(command.params),
            delivery_id=f"notification:{command.notification_id}",
        )

    async def _record(
        self,
        ctx: MessageContext,
        customer_id: UUID,
        template: str,
        params: Params,
        *,
        delivery_id: str | None = None,
    ) -> None:
        await ctx.session.execute(
            _NEW_DELIVERY,
            {
                "delivery_id": delivery_id or f"event:{ctx.envelope.id}",
                "customer_id": customer_id,
                "template": template,
                "params": dict(params),
                "next_attempt_at": datetime.now(UTC),
                "trace_context": trace_carrier(),
            },
        )
        ctx.after_commit(self._wakeup.set)


# Built once: building an insert per event costs more CPU than running it.
_NEW_DELIVERY = (
    insert(Delivery)
    .values(
        **bound(
            "delivery_id", "customer_id", "template", "params", "next_attempt_at", "trace_context"
        ),
        status="pending",
        attempts=0,
    )
    .on_conflict_do_nothing(index_elements=[Delivery.delivery_id])
)


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: str
    customer_id: UUID
    template: str
    params: Mapping[str, str | int]
    attempts: int
    chat_id: int
    language: str
    trace_context: dict[str, str] | None
    reminders: bool = True


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What became of one delivery, to be written with the rest of its batch."""

    statement: TextClause
    params: dict[str, Any]


_FINISHED = text(
    """
    UPDATE deliveries
    SET status = :status, lease_until = NULL, last_error = :error,
        telegram_message_id = :message_id, sent_at = :sent_at
    WHERE delivery_id = :delivery
    """
)
_RETRY = text(
    """
    UPDATE deliveries
    SET status = 'pending', lease_until = NULL, next_attempt_at = :due, last_error = :error
    WHERE delivery_id = :delivery
    """
)

# Deliveries stuck in "sending" belong to a process that died mid-call: Telegram may have
# the message, so they are never sent again.
_ABANDONED = text(
    """
    UPDATE deliveries SET status = 'uncertain', lease_until = NULL,
        last_error = 'the sender stopped while sending; not repeated to avoid a duplicate'
    WHERE status = 'sending' AND lease_until < now()
    """
)
_CLAIM = text(
    """
    UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1,
        lease_until = now() + CAST(:lease AS interval)
    FROM contacts c
    WHERE c.customer_id = d.customer_id AND d.delivery_id IN (
        SELECT p.delivery_id FROM deliveries p JOIN contacts pc USING (customer_id)
        WHERE p.status = 'pending' AND p.next_attempt_at <= now()
        ORDER BY p.created_at
        LIMIT :limit
        FOR UPDATE OF p SKIP LOCKED
    )
    RETURNING d.delivery_id, d.customer_id, d.template, d.params, d.attempts, d.created_at,
              d.trace_context, c.chat_id, c.language, c.reminders
    """
)


class RateLimit:
    """At most ``per_second`` sends across all chats (0: no limit)."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await asyncio.sleep(delay)


class Sender:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        telegram: TelegramClient,
        rate_limit: RateLimit,
        concurrency: int,
        retry: RetryPolicy,
        give_up_after_attempts: int,
    ) -> None:
        self._sessions = sessions
        self._telegram = telegram
        self._rate_limit = rate_limit
        self._concurrency = concurrency
        self._retry = retry
        self._give_up_after = give_up_after_attempts
        self._last_sweep = float("-inf")

    async def step(self) -> int:
        if time.monotonic() - self._last_sweep > LEASE.total_seconds() / 2:
            await self.sweep_abandoned()
        rows = await claim(self._sessions, _CLAIM, lease=LEASE, limit=self._concurrency)
        by_customer: dict[UUID, list[Claimed]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: r["created_at"]):
            by_customer[row["customer_id"]].append(
                Claimed(
                    delivery_id=row["delivery_id"],
                    customer_id=row["customer_id"],
                    template=row["template"],
                    params=row["params"],
                    attempts=row["attempts"],
                    chat_id=row["chat_id"],
                    language=row["language"],
                    reminders=row["reminders"],
                    trace_context=row["trace_context"],
                )
            )
        # One customer's messages go out in order; different customers in parallel. What
        # became of them is written in one transaction for the whole batch.
        outcomes: list[_Outcome] = []
        await asyncio.gather(
            *(self._send_in_order(items, outcomes) for items in by_customer.values())
        )
        if outcomes:
            async with transaction(self._sessions) as session:
                for outcome in outcomes:
                    await session.execute(outcome.statement, outcome.params)
        return len(rows)

    async def sweep_abandoned(self) -> None:
        """Mark deliveries whose sender died mid-call ``uncertain`` (never sent again)."""
        self._last_sweep = time.monotonic()
        async with transaction(self._sessions) as session:
            abandoned = await session.execute(_ABANDONED)
        left = getattr(abandoned, "rowcount", 0)
        if left:
            log.warning("deliveries left uncertain", extra={"count": left})

    async def _send_in_order(self, deliveries: list[Claimed], outcomes: list[_Outcome]) -> None:
        for delivery in deliveries:
            with continuing_trace(
                "notification send", delivery.trace_context, template=delivery.template
            ):
                outcomes.append(await self._send(delivery))

    async def _send(self, delivery: Claimed) -> _Outcome:
        if delivery.template in OPTIONAL and not delivery.reminders:
            # Decided at the send, so a reminder recorded before the customer turned them
            # off is not sent either.
            return self._finish(delivery, "skipped")
        try:
            text_ = render(delivery.template, delivery.language, delivery.params)
        except (UnknownTemplate, KeyError, ValueError) as exc:
            log.error(
                "notification cannot be rendered", extra={"delivery_id": delivery.delivery_id}
            )
            return self._finish(delivery, "failed", error=f"cannot render: {exc!r}")
        await self._rate_limit.wait()
        try:
            message_id = await self._telegram.send_message(
                delivery.chat_id, text_, reply_markup(delivery.language, delivery.params)
            )
        except TelegramRetryAfter as exc:
            return self._retry_later(delivery, timedelta(seconds=exc.retry_after), str(exc))
        except TelegramUncertain as exc:
            log.warning(
                "delivery outcome unknown; not repeated",
                extra={"delivery_id": delivery.delivery_id},
            )
            return self._finish(delivery, "uncertain", error=str(exc))
        except TelegramRefused as exc:
            log.warning(
                "Telegram refused a message",
                extra={"delivery_id": delivery.delivery_id, "error": str(exc)},
            )
            return self._finish(delivery, "failed", error=str(exc))
        except TelegramError as exc:
            if delivery.attempts >= self._give_up_after:
                return self._finish(delivery, "failed", error=f"gave up: {exc}")
            return self._retry_later(delivery, self._retry.delay(delivery.attempts), str(exc))
        return self._finish(delivery, "sent", message_id=message_id)

    @staticmethod
    def _retry_later(delivery: Claimed, delay: timedelta, error: str) -> _Outcome:
        metrics.WORK_OUTCOMES.labels("notifier", "delivery", "retry").inc()
        return _Outcome(
            _RETRY,
            {
                "delivery": delivery.delivery_id,
                "due": datetime.now(UTC) + delay,
                "error": error[:2000],
            },
        )

    @staticmethod
    def _finish(
        delivery: Claimed,
        status: str,
        *,
        error: str | None = None,
        message_id: int | None = None,
    ) -> _Outcome:
        outcome = "done" if status == "sent" else status
        metrics.WORK_OUTCOMES.labels("notifier", "delivery", outcome).inc()
        return _Outcome(
            _FINISHED,
            {
                "delivery": delivery.delivery_id,
                "status": status,
                "error": error[:2000] if error else None,
                "message_id": message_id,
                "sent_at": datetime.now(UTC) if status == "sent" else None,
            },
        )
