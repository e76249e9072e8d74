"""Telegram Stars in the chat: the pre-checkout query answered from the bot's own records,
and each payment (or refund) Telegram reports carried to billing.

Telegram gives the bot 10 seconds to answer a pre-checkout query, so the answer comes
from what the bot already knows: the invoice names an order whose checkout the bot
showed, for that amount, and its plan is still on sale. Billing settles the payment once
per ``telegram_payment_charge_id``; the bot only forwards what Telegram said.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

from aiogram import F, Router
from aiogram.types import Message, PreCheckoutQuery, Update
from sqlalchemy import select

from bot.catalog import current_catalog
from bot.models import Checkout, Customer
from bot.texts import say
from chassis.messaging.consumer import MessageContext
from contracts.bot import StarsPaymentReceived
from contracts.money import Money

log = logging.getLogger(__name__)

STARS = "XTR"
_PAYLOAD_PREFIX = "order:"


def order_of(payload: str) -> UUID | None:
    if not payload.startswith(_PAYLOAD_PREFIX):
        return None
    try:
        return UUID(payload.removeprefix(_PAYLOAD_PREFIX))
    except ValueError:
        return None


async def precheckout_verdict(
    ctx: MessageContext, customer: Customer, query: PreCheckoutQuery
) -> str | None:
    """None when the payment may go ahead; otherwise why not, for the log."""
    order_id = order_of(query.invoice_payload)
    if order_id is None:
        return "the invoice names no order of ours"
    checkout = await ctx.session.scalar(select(Checkout).where(Checkout.order_id == order_id))
    if checkout is None or checkout.customer_id != customer.customer_id:
        return "no checkout of this customer for the order"
    if checkout.status != "ready":
        return f"the checkout is {checkout.status}"
    if query.currency != STARS or checkout.currency != STARS:
        return f"currency {query.currency}, the checkout is in {checkout.currency}"
    if query.total_amount != checkout.amount_minor:
        return f"{query.total_amount} Stars asked, the checkout is for {checkout.amount_minor}"
    plan = (await current_catalog(ctx.session)).plan(checkout.plan_id)
    if plan is not None and not plan.active:
        return f"plan {plan.plan_id} is no longer on sale"
    return None


def build_router() -> Router:
    router = Router(name="stars")

    @router.pre_checkout_query()
    async def pre_checkout(
        query: PreCheckoutQuery, customer: Customer, ctx: MessageContext
    ) -> None:
        refusal = await precheckout_verdict(ctx, customer, query)
        if refusal is None:
            await query.answer(ok=True)
            return
        log.warning(
            "pre-checkout refused", extra={"payload": query.invoice_payload, "reason": refusal}
        )
        await query.answer(ok=False, error_message=say("stars-invoice-stale", customer.language))

    @router.message(F.successful_payment)
    async def paid(
        message: Message, customer: Customer, ctx: MessageContext, event_update: Update
    ) -> None:
        payment = message.successful_payment
        assert payment is not None
        await ctx.publish(
            StarsPaymentReceived(
                kind="payment",
                telegram_payment_charge_id=payment.telegram_payment_charge_id,
                invoice_payload=payment.invoice_payload,
                currency=payment.currency,
                total_amount=payment.total_amount,
                telegram_user_id=customer.telegram_user_id,
                customer_id=customer.customer_id,
                is_recurring=bool(payment.is_recurring),
                is_first_recurring=bool(payment.is_first_recurring),
                subscription_expiration_date=(
                    datetime.fromtimestamp(payment.subscription_expiration_date, UTC)
                    if payment.subscription_expiration_date
                    else None
                ),
                update_id=event_update.update_id,
                received_at=datetime.now(UTC),
            )
        )
        price = Money(amount_minor=payment.total_amount, currency=payment.currency)
        await message.answer(say("stars-paid", customer.language, price=price))

    @router.message(F.refunded_payment)
    async def refunded(
        message: Message, customer: Customer, ctx: MessageContext, event_update: Update
    ) -> None:
        refund = message.refunded_payment
        assert refund is not None
        await ctx.publish(
            StarsPaymentReceived(
                kind="refund",
                telegram_payment_charge_id=refund.telegram_payment_charge_id,
                invoice_payload=refund.invoice_payload,
                currency=refund.currency,
                total_amount=refund.total_amount,
                telegram_user_id=customer.telegram_user_id,
                customer_id=customer.customer_id,
                update_id=event_update.update_id,
                received_at=datetime.now(UTC),
            )
        )
        # Nothing said here: Telegram shows its own service message, and the notifier
        # tells what the refund did to the subscription, once billing has applied it.

    return router
