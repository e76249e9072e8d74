"""Customers as billing knows them, from the bot's events."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from billing import segments
from billing.models import Customer
from chassis.messaging.consumer import MessageContext
from contracts.bot import (
    CustomerEmailProvided,
    CustomerLanguageChanged,
    CustomerRegistered,
    referral_code_for,
)


async def record_customer(event: CustomerRegistered, ctx: MessageContext) -> None:
    await ctx.session.execute(
        insert(Customer)
        .values(
            customer_id=event.customer_id,
            telegram_user_id=event.telegram_user_id,
            language=event.language,
            referral_code=event.referral_code,
            registered_at=event.registered_at,
            own_referral_code=referral_code_for(event.customer_id),
        )
        .on_conflict_do_nothing(index_elements=[Customer.customer_id])
    )
    await segments.registered(ctx.session, event.customer_id)


async def record_language(event: CustomerLanguageChanged, ctx: MessageContext) -> None:
    await ctx.session.execute(
        update(Customer)
        .where(Customer.customer_id == event.customer_id)
        .values(language=event.language)
    )
    await segments.facts_changed(ctx.session, event.customer_id)


async def record_email(event: CustomerEmailProvided, ctx: MessageContext) -> None:
    """Where receipts go when no checkout names an address (a renewal billing starts)."""
    await ctx.session.execute(
        update(Customer).where(Customer.customer_id == event.customer_id).values(email=event.email)
    )
