"""Checkouts: the message a customer pressed "pay" on, kept showing the checkout's state.

Billing's answer (``CheckoutReady`` / ``CheckoutFailed``) is only recorded by the consumer,
with the message marked due; a worker edits the message outside any transaction, retrying
through flood control and outages. Edits are idempotent ("not modified" is done), so the
link is shown by editing the message whenever it can be; only a message that can no longer
be edited gets the link as a new message, and one whose sending may have gone through
(an answer lost on the way back) is not sent again. The same worker tells a customer whose
link is late that it is still coming.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup, LabeledPrice, Message
from sqlalchemy import String, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Update

from bot import keyboards, promos
from bot.catalog import EMPTY, Catalog, current_catalog, plan_title
from bot.models import Checkout, Customer
from bot.telegram_calls import TelegramUncertain, is_gone
from bot.texts import gib, method_name, say
from chassis import metrics
from chassis.db import transaction
from chassis.messaging.consumer import MessageContext, RetryLater
from chassis.worker import RetryPolicy, Wakeup, claim
from contracts.billing import (
    PROMO_REFUSALS,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutReady,
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionPlanChanged,
    SubscriptionTrafficAdded,
    TelegramInvoice,
    WalletChanged,
)
from contracts.bot import AutopayConsent, RequestCheckout, RequestTopUp, RequestTrafficPack
from contracts.money import Money

log = logging.getLogger(__name__)


async def open_checkout(
    ctx: MessageContext,
    customer: Customer,
    *,
    message_id: int,
    plan_id: str,
    provider: str,
    currency: str | None,
    slow_after: timedelta,
    kind: str = "plan",
    autopay: AutopayConsent | None = None,
    quote_id: UUID | None = None,
) -> UUID:
    """Record the checkout the customer asked for on ``message_id`` and ask billing for it;
    a plan's with ``autopay``, the consent to save the method for automatic renewals, the
    quote whose price the customer was shown, and the promo code the customer holds when
    it is for this plan."""
    offer = await promos.held(ctx.session, customer.customer_id) if kind == "plan" else None
    now = datetime.now(UTC)
    checkout_id = uuid.uuid4()
    ctx.session.add(
        Checkout(
            checkout_id=checkout_id,
            customer_id=customer.customer_id,
            chat_id=customer.chat_id,
            message_id=message_id,
            kind=kind,
            plan_id=plan_id,
            provider=provider,
            status="requested",
            requested_at=now,
            screen_shown="preparing",
            # Billing's answer makes it due at once; this is when "still coming" is.
            screen_due_at=now + slow_after,
            screen_attempts=0,
        )
    )
    command: RequestCheckout | RequestTopUp | RequestTrafficPack
    if kind == "traffic":
        command = RequestTrafficPack(
            checkout_id=checkout_id,
            customer_id=customer.customer_id,
            pack_id=plan_id,
            provider=provider,
            currency=currency,
            requested_at=now,
            receipt_email=customer.email,
        )
        await ctx.publish(command)
        return checkout_id
    command = (
        RequestTopUp(
            checkout_id=checkout_id,
            customer_id=customer.customer_id,
            topup_id=plan_id,
            provider=provider,
            currency=currency,
            requested_at=now,
            receipt_email=customer.email,
        )
        if kind == "topup"
        else RequestCheckout(
            checkout_id=checkout_id,
            customer_id=customer.customer_id,
            plan_id=plan_id,
            provider=provider,
            currency=currency,
            requested_at=now,
            receipt_email=customer.email,
            quote_id=quote_id,
            region=customer.chosen_region,
            protocol=customer.chosen_protocol,
            save_payment_method=autopay is not None,
            autopay_consent=autopay,
            promo_code=offer.code if offer is not None and offer.applies_to(plan_id) else None,
        )
    )
    await ctx.publish(command)
    return checkout_id


class CheckoutAnswers:
    """Records billing's answer to a checkout and marks its message due for the worker."""

    def __init__(self, wakeup: Wakeup) -> None:
        self._wakeup = wakeup

    async def ready(self, answer: CheckoutReady, ctx: MessageContext) -> None:
        if answer.promo_code is not None:  # the order holds its use now
            await promos.drop(ctx.session, answer.customer_id, answer.promo_code)
        invoice = answer.telegram_invoice
        await self._record(
            ctx,
            answer.checkout_id,
            status="ready",
            order_id=answer.order_id,
            confirmation_url=str(answer.confirmation_url),
            amount_minor=answer.amount.amount_minor,
            currency=answer.amount.currency,
            invoice=invoice.model_dump(mode="json") if invoice else None,
        )

    async def paid_from_wallet(self, answer: CheckoutPaid, ctx: MessageContext) -> None:
        if answer.promo_code is not None:
            await promos.drop(ctx.session, answer.customer_id, answer.promo_code)
        await self._record(
            ctx,
            answer.checkout_id,
            status="paid",
            order_id=answer.order_id,
            amount_minor=answer.amount.amount_minor,
            currency=answer.amount.currency,
            balance_minor=answer.balance.amount_minor,
        )

    async def failed(self, answer: CheckoutFailed, ctx: MessageContext) -> None:
        log.warning(
            "checkout failed",
            extra={"checkout_id": str(answer.checkout_id), "reason_code": answer.reason_code},
        )
        if answer.reason_code in PROMO_REFUSALS:
            # Refused at checkout (used up meanwhile, expired): the code is not kept.
            await promos.drop_any(ctx.session, answer.customer_id)
        await self._record(
            ctx, answer.checkout_id, status="failed", failure_code=answer.reason_code
        )

    async def subscription_paid(
        self,
        event: SubscriptionActivated | SubscriptionExtended | SubscriptionPlanChanged,
        ctx: MessageContext,
    ) -> None:
        """A plan's order was paid (its period is the proof): the message says so."""
        await self._order_paid(ctx, event.order_id)

    async def traffic_added(self, event: SubscriptionTrafficAdded, ctx: MessageContext) -> None:
        """A traffic pack's order was paid (the traffic added is the proof)."""
        await self._order_paid(ctx, event.order_id)

    async def wallet_credited(self, event: WalletChanged, ctx: MessageContext) -> None:
        """A top-up's order was paid (the credit is the proof): the message says so."""
        if event.credited and event.order_id is not None:
            await self._order_paid(ctx, event.order_id)

    async def _order_paid(self, ctx: MessageContext, order_id: UUID) -> None:
        # Only a checkout that shows a way to pay: a renewal or a refund has no such
        # message, and a wallet payment was answered by CheckoutPaid with its balance.
        paid = await ctx.session.scalar(_PAID, {"order_id": order_id})
        if paid is not None:
            ctx.after_commit(self._wakeup.set)

    async def _record(
        self,
        ctx: MessageContext,
        checkout_id: UUID,
        *,
        status: str,
        after: tuple[str, ...] = ("requested",),
        **values: Any,
    ) -> None:
        recorded = await ctx.session.scalar(
            _answer_statement(tuple(values)),
            {
                "answered_checkout": checkout_id,
                "after": list(after),
                "new_status": status,
                **values,
            },
        )
        if recorded is None:
            known = await ctx.session.scalar(
                select(Checkout.checkout_id).where(Checkout.checkout_id == checkout_id)
            )
            if known is None:
                log.warning(
                    "answer to a checkout this bot did not request",
                    extra={"checkout_id": str(checkout_id)},
                )
            return
        ctx.after_commit(self._wakeup.set)


# Paid is learnt from what billing publishes about the order anyway (the subscription's new
# period, the wallet's credit), not from a payment event of its own.
_PAID = text(
    """
    UPDATE checkouts
    SET status = 'paid', answered_at = now(), screen_due_at = now(), screen_attempts = 0
    WHERE order_id = :order_id AND status = 'ready'
    RETURNING checkout_id
    """
)


@functools.cache
def _answer_statement(columns: tuple[str, ...]) -> Update:
    """The statement that records an answer setting ``columns``, built once per kind of
    answer (building one costs more CPU than running it)."""
    return (
        update(Checkout)
        # A repeated or late answer changes nothing: the first one decided.
        .where(
            Checkout.checkout_id == bindparam("answered_checkout"),
            Checkout.status == func.any(bindparam("after", type_=ARRAY(String))),
        )
        .values(
            status=bindparam("new_status"),
            answered_at=func.now(),
            screen_due_at=func.now(),
            screen_attempts=0,
            **{column: bindparam(column) for column in columns},
        )
        .returning(Checkout.checkout_id)
    )


@dataclass(frozen=True, slots=True)
class DueScreen:
    checkout_id: UUID
    customer_id: UUID
    chat_id: int
    message_id: int
    kind: str
    plan_id: str
    provider: str
    status: str
    failure_code: str | None
    screen_shown: str
    confirmation_url: str | None
    invoice: dict[str, Any] | None
    amount_minor: int | None
    currency: str | None
    balance_minor: int | None
    screen_attempts: int
    language: str
    chosen_region: str | None = None  # the customer's: a plan's price is that region's

    @property
    def price(self) -> Money | None:
        if self.amount_minor is None or self.currency is None:
            return None
        return Money(amount_minor=self.amount_minor, currency=self.currency)


_CLAIM = text(
    """
    UPDATE checkouts c
    SET screen_lease_until = now() + CAST(:lease AS interval),
        screen_attempts = c.screen_attempts + 1
    FROM customers
    WHERE customers.customer_id = c.customer_id AND c.checkout_id IN (
        SELECT checkout_id FROM checkouts
        WHERE screen_due_at <= now()
          AND (screen_lease_until IS NULL OR screen_lease_until < now())
        ORDER BY screen_due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING c.checkout_id, c.customer_id, c.chat_id, c.message_id, c.kind, c.plan_id,
        c.provider, c.status, c.failure_code, c.screen_shown, c.confirmation_url, c.invoice,
        c.amount_minor, c.currency, c.balance_minor, c.screen_attempts, customers.language,
        customers.chosen_region
    """
)

# Done with what was claimed: if billing's answer arrived meanwhile (the status moved on),
# the row stays due and the answer is shown next.
_SHOWN = text(
    """
    UPDATE checkouts
    SET screen_shown = :shown, screen_lease_until = NULL, screen_attempts = 0,
        message_id = :message_id,
        screen_due_at = CASE WHEN status = :status THEN NULL ELSE screen_due_at END
    WHERE checkout_id = :checkout_id
    """
)
_RETRY = text(
    """
    UPDATE checkouts
    SET screen_lease_until = NULL,
        screen_due_at = now() + CAST(:delay AS interval)
    WHERE checkout_id = :checkout_id
    """
)


@dataclass(frozen=True, slots=True)
class _Shown:
    """A screen is done with: what its message shows now."""

    checkout_id: UUID
    shown: str
    status: str
    message_id: int

    def params(self) -> dict[str, Any]:
        return {
            "checkout_id": self.checkout_id,
            "shown": self.shown,
            "status": self.status,
            "message_id": self.message_id,
        }


@dataclass(frozen=True, slots=True)
class _Retry:
    """A screen to show again after ``delay``."""

    checkout_id: UUID
    delay: timedelta

    def params(self) -> dict[str, Any]:
        return {"checkout_id": self.checkout_id, "delay": self.delay}


def _title(screen: DueScreen, catalog: Catalog, language: str) -> str:
    """What the checkout sells, in the customer's language."""
    if screen.kind == "topup":
        topup = catalog.topup(screen.plan_id)
        return say("topup-title", language, credit=topup.credit) if topup else screen.plan_id
    if screen.kind == "traffic":
        pack = catalog.traffic_pack(screen.plan_id)
        return say("traffic-pack-title", language, gib=gib(pack.traffic_bytes)) if pack else ""
    plan = catalog.plan(screen.plan_id)
    return plan_title(plan, language) if plan else screen.plan_id


class CheckoutScreens:
    """The worker that shows each checkout's state in its message."""

    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        *,
        retry: RetryPolicy,
        give_up_after_attempts: int,
        lease: timedelta = timedelta(seconds=30),
        batch_size: int = 20,
    ) -> None:
        self._bot = bot
        self._sessions = sessions
        self._retry = retry
        self._give_up_after = give_up_after_attempts
        self._lease = lease
        self.batch_size = batch_size

    async def step(self) -> int:
        rows = await claim(self._sessions, _CLAIM, lease=self._lease, limit=self.batch_size)
        due = [DueScreen(**row) for row in rows]
        if not due:
            return 0
        # One read of the catalog and one write of the results for the whole batch: the
        # Telegram calls in between are made outside any transaction.
        catalog = EMPTY
        if any(screen.status != "requested" for screen in due):
            async with transaction(self._sessions) as session:
                catalog = await current_catalog(session)
        results = await asyncio.gather(
            *(self._show(screen, catalog) for screen in due), return_exceptions=True
        )
        async with transaction(self._sessions) as session:
            for screen, result in zip(due, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result
                    # A fault of ours, not Telegram's: the others' results are still kept.
                    log.error(
                        "showing a checkout failed",
                        exc_info=result,
                        extra={"checkout_id": str(screen.checkout_id)},
                    )
                    result = self._again(screen, None, repr(result))
                statement = _SHOWN if isinstance(result, _Shown) else _RETRY
                await session.execute(statement, result.params())
        return len(due)

    async def _show(self, screen: DueScreen, catalog: Catalog) -> _Shown | _Retry:
        view = self._view(screen, catalog)
        if view is None:
            return self._done(screen, screen.screen_shown, screen.message_id)
        shown, body, markup = view
        try:
            message_id = await self._put(screen, body, markup)
            if shown == "invoice":
                await self._send_invoice(screen)
        except RetryLater as exc:
            # Telegram did not take it, or an edit's answer was lost (a send whose answer was
            # lost counts as sent): an edit can always be made again.
            return self._again(screen, exc.after_s, repr(exc))
        except TelegramForbiddenError:
            log.info("customer blocked the bot; checkout not shown")
            return self._done(screen, "unreachable", screen.message_id, outcome="failed")
        except TelegramBadRequest as exc:
            log.error(
                "Telegram refused the checkout screen",
                extra={"checkout_id": str(screen.checkout_id), "error": exc.message},
            )
            return self._done(screen, "unshowable", screen.message_id, outcome="failed")
        return self._done(screen, shown, message_id, outcome="done")

    @staticmethod
    def _view(
        screen: DueScreen, catalog: Catalog
    ) -> tuple[str, str, InlineKeyboardMarkup | None] | None:
        """What the message should show now, or None when it shows it already."""
        language = screen.language
        if screen.status == "requested":
            if screen.screen_shown != "preparing":
                return None
            return "slow", say("checkout-slow", language), None
        title = _title(screen, catalog, language)
        if screen.status == "failed":
            return "failed", *CheckoutScreens._failure(screen, catalog, language)
        price = screen.price
        assert price is not None
        if screen.status == "paid":
            if screen.screen_shown == "paid":
                return None
            if screen.balance_minor is not None:
                balance = Money(amount_minor=screen.balance_minor, currency=price.currency)
                body = say(
                    "checkout-paid-wallet", language, title=title, price=price, balance=balance
                )
            elif screen.kind == "topup":
                body = say("checkout-paid-topup", language, title=title, price=price)
            elif screen.kind == "traffic":
                body = say("checkout-paid-traffic", language, title=title, price=price)
            else:
                body = say("checkout-paid", language, title=title, price=price)
            return "paid", body, None
        if screen.screen_shown in ("ready", "invoice"):
            return None
        if screen.invoice is not None:
            return "invoice", say("checkout-invoice", language, title=title, price=price), None
        assert screen.confirmation_url is not None
        return (
            "ready",
            say("checkout-ready", language, title=title, price=price),
            keyboards.payment_link(screen.confirmation_url, language),
        )

    @staticmethod
    def _failure(
        screen: DueScreen, catalog: Catalog, language: str
    ) -> tuple[str, InlineKeyboardMarkup]:
        """Why it failed, and where to go: another way to pay the same thing when there is one."""
        plan = catalog.plan(screen.plan_id) if screen.kind == "plan" else None
        topup = catalog.topup(screen.plan_id) if screen.kind == "topup" else None
        quoted = (
            catalog.prices_for(screen.customer_id, plan, screen.chosen_region)
            if plan is not None
            else ()
        )
        if plan is not None and plan.active and quoted:
            if screen.failure_code in PROMO_REFUSALS:
                # Every way to pay at the plan's own price: the code is gone, the plan is not.
                text = say("checkout-promo-refused", language, refusal=screen.failure_code)
                return text, keyboards.pay(plan, catalog.offers(quoted), language)
            if screen.failure_code in ("quote_stale", "quote_invalid", "price_changed"):
                # The price the customer saw is not on offer: the one that is, to pay again.
                text = say("checkout-price-changed", language, title=plan_title(plan, language))
                return text, keyboards.pay(plan, catalog.offers(quoted), language)
        if screen.kind == "traffic" and screen.failure_code in (
            "traffic_needs_subscription",
            "traffic_not_for_plan",
        ):
            text = say("checkout-traffic-refused", language, refusal=screen.failure_code)
            return text, keyboards.main_menu(language)
        prices = quoted if plan else topup.prices if topup else ()
        others = [
            (method, price)
            for method, price in catalog.offers(prices)
            if method.provider not in (screen.provider, "wallet" if topup else "")
        ]
        if others:
            if plan is not None:
                markup = keyboards.pay(plan, others, language)
            else:
                assert topup is not None
                markup = keyboards.pay_topup(topup, others, language)
            if screen.failure_code in ("provider_unavailable", "provider_rejected"):
                method = method_name(screen.provider, language)
                return say("checkout-try-another", language, method=method), markup
            if screen.failure_code == "insufficient_funds":
                return say("checkout-insufficient-funds", language), markup
        return say("checkout-failed", language), keyboards.main_menu(language)

    async def _send_invoice(self, screen: DueScreen) -> None:
        """Send the Stars invoice after the checkout message; a send that may have happened
        is not repeated (the customer would see two invoices for one order)."""
        assert screen.invoice is not None
        invoice = TelegramInvoice.model_validate(screen.invoice)
        try:
            await self._bot.send_invoice(
                chat_id=screen.chat_id,
                title=invoice.title,
                description=invoice.description,
                payload=invoice.payload,
                currency=invoice.amount.currency,
                prices=[LabeledPrice(label=invoice.title, amount=invoice.amount.amount_minor)],
            )
        except TelegramUncertain as exc:
            log.warning(
                "the Stars invoice may not have been sent; not sending it twice",
                extra={"checkout_id": str(screen.checkout_id), "error": repr(exc)},
            )

    async def _put(self, screen: DueScreen, body: str, markup: InlineKeyboardMarkup | None) -> int:
        """Edit the checkout message; send a new one only if it cannot be edited any more."""
        try:
            await self._bot.edit_message_text(
                text=body, chat_id=screen.chat_id, message_id=screen.message_id, reply_markup=markup
            )
            return screen.message_id
        except TelegramBadRequest as exc:
            if not is_gone(exc):
                raise
            log.info(
                "checkout message cannot be edited; sending it anew", extra={"error": exc.message}
            )
        try:
            sent = await self._bot.send_message(screen.chat_id, body, reply_markup=markup)
        except TelegramUncertain as exc:
            log.warning(
                "the checkout message may not have been sent; not sending it twice",
                extra={"checkout_id": str(screen.checkout_id), "error": repr(exc)},
            )
            metrics.WORK_OUTCOMES.labels("bot", "checkout_screen", "uncertain").inc()
            return screen.message_id
        return sent.message_id if isinstance(sent, Message) else screen.message_id

    @staticmethod
    def _done(
        screen: DueScreen, shown: str, message_id: int, *, outcome: str | None = None
    ) -> _Shown:
        """What the message shows now; ``outcome`` counts a Telegram call made."""
        if outcome is not None:
            metrics.WORK_OUTCOMES.labels("bot", "checkout_screen", outcome).inc()
        return _Shown(screen.checkout_id, shown, screen.status, message_id)

    def _again(self, screen: DueScreen, after_s: float | None, error: str) -> _Shown | _Retry:
        if screen.screen_attempts >= self._give_up_after:
            log.error(
                "gave up showing a checkout",
                extra={"checkout_id": str(screen.checkout_id), "error": error},
            )
            return self._done(screen, "unreachable", screen.message_id, outcome="failed")
        delay = max(self._retry.delay(screen.screen_attempts), timedelta(seconds=after_s or 0))
        log.warning(
            "could not show a checkout yet; retrying",
            extra={
                "checkout_id": str(screen.checkout_id),
                "attempt": screen.screen_attempts,
                "delay_s": delay.total_seconds(),
                "error": error,
            },
        )
        metrics.WORK_OUTCOMES.labels("bot", "checkout_screen", "retry").inc()
        return _Retry(screen.checkout_id, delay)
