"""What the bot learns from other services: checkout answers, subscriptions, access."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from bot import keyboards
from bot.catalog import plan_by_id
from bot.models import Checkout, Customer, CustomerSubscription
from bot.texts import format_price, say
from chassis.messaging.consumer import MessageContext
from contracts.billing import (
    CheckoutFailed,
    CheckoutReady,
    SubscriptionActivated,
    SubscriptionExtended,
)
from contracts.provisioning import AccessGranted

log = logging.getLogger(__name__)


class CheckoutAnswers:
    """Puts billing's answer into the message the customer pressed "pay" on."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def ready(self, answer: CheckoutReady, ctx: MessageContext) -> None:
        found = await self._pending(ctx, answer.checkout_id)
        if found is None:
            return
        checkout, customer = found
        checkout.status = "ready"
        checkout.confirmation_url = answer.confirmation_url
        checkout.answered_at = datetime.now(UTC)
        plan = await plan_by_id(ctx.session, checkout.plan_id)
        title = getattr(plan.title, customer.language) if plan else checkout.plan_id
        text = say(
            "checkout.ready", customer.language, title=title, price=format_price(answer.amount)
        )
        await self._edit(
            checkout, text, keyboards.payment_link(answer.confirmation_url, customer.language)
        )

    async def failed(self, answer: CheckoutFailed, ctx: MessageContext) -> None:
        found = await self._pending(ctx, answer.checkout_id)
        if found is None:
            return
        checkout, customer = found
        checkout.status = "failed"
        checkout.answered_at = datetime.now(UTC)
        log.warning(
            "checkout failed",
            extra={"checkout_id": str(answer.checkout_id), "reason_code": answer.reason_code},
        )
        await self._edit(
            checkout,
            say("checkout.failed", customer.language),
            keyboards.main_menu(customer.language),
        )

    async def _pending(
        self, ctx: MessageContext, checkout_id: object
    ) -> tuple[Checkout, Customer] | None:
        row = (
            await ctx.session.execute(
                select(Checkout, Customer)
                .join(Customer, Customer.customer_id == Checkout.customer_id)
                .where(Checkout.checkout_id == checkout_id)
                .with_for_update(of=Checkout)
            )
        ).first()
        if row is None:
            log.warning(
                "answer to a checkout this bot did not request",
                extra={"checkout_id": str(checkout_id)},
            )
            return None
        checkout, customer = row.tuple()
        if checkout.status != "requested":
            return None  # answered already; a repeated answer changes nothing
        return checkout, customer

    async def _edit(self, checkout: Checkout, text: str, markup: InlineKeyboardMarkup) -> None:
        try:
            await self._bot.edit_message_text(
                text=text,
                chat_id=checkout.chat_id,
                message_id=checkout.message_id,
                reply_markup=markup,
            )
        except TelegramForbiddenError:
            log.info("customer blocked the bot; checkout answer not shown")
        except TelegramBadRequest as exc:
            # The message is gone or too old to edit: send the answer as a new message.
            log.info("could not edit the checkout message", extra={"error": exc.message})
            await self._bot.send_message(checkout.chat_id, text, reply_markup=markup)


async def record_subscription(
    event: SubscriptionActivated | SubscriptionExtended, ctx: MessageContext
) -> None:
    await _upsert_subscription(
        ctx,
        event.subscription_id,
        event.customer_id,
        {
            "plan_id": event.plan_id,
            "period_end": event.period_end,
            "traffic_limit_bytes": event.traffic_limit_bytes,
        },
        # A replayed older period must not shorten what the customer sees.
        newer_only=True,
    )


async def record_access(event: AccessGranted, ctx: MessageContext) -> None:
    # Access can be reported before the subscription event is read (different topics),
    # so it may create the row; the subscription event fills in the plan.
    await _upsert_subscription(
        ctx,
        event.subscription_id,
        event.customer_id,
        {
            "subscription_url": event.subscription_url,
            "access_expires_at": event.expires_at,
            "traffic_limit_bytes": event.traffic_limit_bytes,
        },
        defaults={"plan_id": "", "period_end": event.expires_at},
    )


async def _upsert_subscription(
    ctx: MessageContext,
    subscription_id: UUID,
    customer_id: UUID,
    changes: dict[str, Any],
    *,
    defaults: dict[str, Any] | None = None,
    newer_only: bool = False,
) -> None:
    """Insert the customer's subscription row, or set ``changes`` on the existing one."""
    changes = changes | {"updated_at": datetime.now(UTC)}
    statement = insert(CustomerSubscription).values(
        subscription_id=subscription_id,
        customer_id=customer_id,
        **(defaults or {}),
        **changes,
    )
    newer = CustomerSubscription.period_end <= statement.excluded.period_end
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=[CustomerSubscription.subscription_id],
            set_={name: statement.excluded[name] for name in changes},
            where=newer if newer_only else None,
        )
    )
