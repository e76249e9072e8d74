"""Customers: every Telegram user who talks to the bot becomes one, exactly once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from bot.models import Customer
from bot.texts import language_of
from chassis.messaging.consumer import MessageContext
from contracts.bot import CustomerRegistered

_REFERRAL: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def referral_code(update: Update) -> str | None:
    """The deep-link payload of ``/start <payload>``, if it is a well-formed one."""
    text = update.message.text if update.message is not None else None
    if not text or not text.startswith("/start"):
        return None
    parts = text.split(maxsplit=1)
    if len(parts) != 2 or parts[0].split("@")[0] != "/start":
        return None
    payload = parts[1].strip()
    return payload if _REFERRAL.fullmatch(payload) else None


async def customer_for(
    ctx: MessageContext, user: User, chat_id: int, *, referral: str | None
) -> Customer:
    """The customer of a Telegram user, registered (and announced) on first contact."""
    existing = await ctx.session.scalar(
        select(Customer).where(Customer.telegram_user_id == user.id)
    )
    if existing is not None:
        return existing
    now = datetime.now(UTC)
    customer_id = uuid.uuid4()
    language = language_of(user.language_code)
    inserted = await ctx.session.scalar(
        insert(Customer)
        .values(
            customer_id=customer_id,
            telegram_user_id=user.id,
            chat_id=chat_id,
            language=language,
            referral_code=referral,
            registered_at=now,
        )
        .on_conflict_do_nothing(index_elements=[Customer.telegram_user_id])
        .returning(Customer.customer_id)
    )
    if inserted is not None:
        await ctx.publish(
            CustomerRegistered(
                customer_id=customer_id,
                telegram_user_id=user.id,
                chat_id=chat_id,
                language=language,
                referral_code=referral,
                registered_at=now,
            )
        )
    customer = await ctx.session.scalar(
        select(Customer).where(Customer.telegram_user_id == user.id)
    )
    assert customer is not None
    return customer


class CustomerMiddleware(BaseMiddleware):
    """Gives every handler the ``customer`` behind the update (registering newcomers)."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        chat = data.get("event_chat")
        if user is None or user.is_bot or not isinstance(event, Update):
            return await handler(event, data)
        chat_id = chat.id if chat is not None else user.id
        data["customer"] = await customer_for(
            data["ctx"], user, chat_id, referral=referral_code(event)
        )
        return await handler(event, data)
