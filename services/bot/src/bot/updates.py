"""Telegram updates into aiogram: from Kafka (webhook mode) or from getUpdates (polling).

Either way an update is handled inside one database transaction, with the inbox of the
consumer (webhook mode) making a redelivered update a no-op. Telegram failures are sorted
by what retrying can do: flood control and outages retry the update, a customer who
blocked the bot is simply not answered.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import Update
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Checkout, Customer
from bot.texts import say
from chassis.db import transaction
from chassis.messaging.consumer import MessageContext, RetryLater
from chassis.messaging.outbox import Outbox
from contracts.envelope import Envelope
from contracts.gateway import TelegramUpdateReceived

log = logging.getLogger(__name__)

MAX_FLOOD_WAIT_S = 30


class UpdateProcessor:
    def __init__(self, bot: Bot, dispatcher: Dispatcher) -> None:
        self.bot = bot
        self._dispatcher = dispatcher

    async def handle_received(self, event: TelegramUpdateReceived, ctx: MessageContext) -> None:
        await self.process(event.update, ctx)

    async def process(self, raw: dict[str, Any], ctx: MessageContext) -> None:
        update = Update.model_validate(raw, context={"bot": self.bot})
        try:
            await self._dispatcher.feed_update(self.bot, update, ctx=ctx)
        except TelegramRetryAfter as exc:
            # Telegram asks us to slow down in this chat; the whole update is retried.
            await asyncio.sleep(min(exc.retry_after, MAX_FLOOD_WAIT_S))
            raise RetryLater(f"Telegram flood control: {exc.message}") from exc
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise RetryLater(f"Telegram unavailable: {exc}") from exc
        except TelegramForbiddenError:
            log.info("the customer blocked the bot", extra={"update_id": update.update_id})


class Poller:
    """Local development without a public URL: getUpdates, one update per transaction."""

    def __init__(
        self,
        processor: UpdateProcessor,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        allowed_updates: list[str],
    ) -> None:
        self._processor = processor
        self._sessions = sessions
        self._outbox = outbox
        self._allowed_updates = allowed_updates

    async def run(self) -> None:
        bot = self._processor.bot
        await _with_retries("deleteWebhook", lambda: bot.delete_webhook())
        offset: int | None = None
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=25, allowed_updates=self._allowed_updates
                )
            except Exception as exc:
                log.warning("getUpdates failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(2)
                continue
            for update in updates:
                await self._handle(update)
                offset = update.update_id + 1

    async def _handle(self, update: Update) -> None:
        raw = update.model_dump(mode="json", exclude_none=True, by_alias=True)
        chat_id = _chat_id(update)
        event = TelegramUpdateReceived(
            update_id=update.update_id,
            chat_id=chat_id,
            update=raw,
            received_at=datetime.now(UTC),
        )
        envelope = Envelope.for_event(event, source=self._outbox.source)
        while True:
            try:
                async with transaction(self._sessions) as session:
                    ctx = MessageContext(
                        session=session,
                        envelope=envelope,
                        outbox=self._outbox,
                        topic="getUpdates",
                        partition=0,
                        offset=update.update_id,
                    )
                    await self._processor.process(raw, ctx)
                for callback in ctx.committed_callbacks:
                    callback()
                return
            except RetryLater as exc:
                log.warning("update will be retried", extra={"error": str(exc)})
                await asyncio.sleep(1)
            except Exception:
                log.exception("update could not be handled", extra={"update_id": update.update_id})
                return


def _chat_id(update: Update) -> int:
    if update.message is not None:
        return update.message.chat.id
    if update.callback_query is not None:
        return update.callback_query.from_user.id
    return 0


async def register_webhook(bot: Bot, *, url: str, secret: str, allowed_updates: list[str]) -> None:
    await _with_retries(
        "setWebhook",
        lambda: bot.set_webhook(url=url, secret_token=secret, allowed_updates=allowed_updates),
    )
    log.info("webhook registered", extra={"url": url})


async def _with_retries(name: str, call: Any) -> None:
    delay = 1.0
    while True:
        try:
            await call()
            return
        except Exception as exc:
            log.warning("%s failed; retrying", name, extra={"error": repr(exc)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30)


class SlowCheckouts:
    """Tells customers whose payment link is late that it is still coming."""

    def __init__(
        self, bot: Bot, sessions: async_sessionmaker[AsyncSession], *, after_s: float
    ) -> None:
        self._bot = bot
        self._sessions = sessions
        self._after = timedelta(seconds=after_s)

    async def step(self) -> int:
        async with transaction(self._sessions) as session:
            rows = (
                await session.execute(
                    select(Checkout, Customer.language)
                    .join(Customer, Customer.customer_id == Checkout.customer_id)
                    .where(
                        Checkout.status == "requested",
                        Checkout.slow_notice_sent.is_(False),
                        Checkout.requested_at < datetime.now(UTC) - self._after,
                    )
                    .limit(50)
                    .with_for_update(of=Checkout, skip_locked=True)
                )
            ).all()
            for checkout, language in rows:
                checkout.slow_notice_sent = True
                try:
                    await self._bot.edit_message_text(
                        text=say("checkout.slow", language),
                        chat_id=checkout.chat_id,
                        message_id=checkout.message_id,
                    )
                except Exception as exc:
                    log.info("could not tell about a slow checkout", extra={"error": repr(exc)})
        return len(rows)
