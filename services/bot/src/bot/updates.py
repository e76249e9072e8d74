"""Telegram updates into aiogram: from Kafka (webhook mode) or from getUpdates (polling).

Either way an update is handled in a transaction of its own, once: its ``update_id`` is
recorded in the inbox with the handler's writes, so an update Telegram delivers again (a
slow webhook answer, a poll whose offset was not confirmed) changes nothing and is not
answered twice. Telegram's failures arrive already sorted by ``bot.telegram_calls``: the
retryable ones redeliver the update (and only it); a customer who blocked the bot is
simply not answered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import BotCommand, CallbackQuery, Chat, Message, TelegramObject, Update, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.texts import LANGUAGES, language_of, say
from chassis.db import transaction
from chassis.messaging.consumer import MessageContext, RetryLater
from chassis.messaging.outbox import Outbox
from contracts.envelope import Envelope
from contracts.gateway import TelegramUpdateReceived

log = logging.getLogger(__name__)

UPDATE_INBOX = "telegram-updates"
COMMANDS = ("start", "buy", "subscription", "wallet", "promo", "language", "help")


class UpdateProcessor:
    def __init__(self, bot: Bot, dispatcher: Dispatcher) -> None:
        self.bot = bot
        self._dispatcher = dispatcher

    async def handle_received(self, event: TelegramUpdateReceived, ctx: MessageContext) -> None:
        await self.process(event.update, ctx)

    async def process(self, raw: dict[str, Any], ctx: MessageContext) -> None:
        update = Update.model_validate(raw, context={"bot": self.bot})
        if not await ctx.first_time(UPDATE_INBOX, f"{self.bot.id}:{update.update_id}"):
            log.info(
                "update delivered again; handled already", extra={"update_id": update.update_id}
            )
            ctx.outcome = "duplicate"
            return
        try:
            await self._dispatcher.feed_update(self.bot, update, ctx=ctx)
        except TelegramForbiddenError:
            log.info("the customer blocked the bot", extra={"update_id": update.update_id})


class PrivateChatsOnly(BaseMiddleware):
    """Customer screens exist only in the customer's own private chat.

    The customer is the sender, and what the bot shows (a subscription link) is theirs: so
    an update is served only when its chat is the sender's private chat. In a group the
    bot answers a command or a button with "write to me in private" and nothing else; an
    update whose private chat is not the sender's (only a forged one can be) gets no answer.
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if user is None or user.is_bot or not isinstance(event, Update):
            return None
        if chat is not None and chat.type == "private" and chat.id == user.id:
            return await handler(event, data)
        if chat is None and event.pre_checkout_query is not None:
            # The customer's own checkout, which has no chat: answered like their messages.
            return await handler(event, data)
        if chat is not None and chat.type == "private":
            log.warning(
                "update from one user in another user's chat; not answered",
                extra={"update_id": event.update_id},
            )
            return None
        await _decline(event, language_of(user.language_code))
        return None


async def _decline(update: Update, language: str) -> None:
    text = say("private-only", language)
    query: CallbackQuery | None = update.callback_query
    if query is not None:
        await query.answer(text, show_alert=True)
        return
    message: Message | None = update.message
    if message is not None and message.text and message.text.startswith("/"):
        await message.reply(text)


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
                    offset=offset,
                    timeout=25,
                    allowed_updates=self._allowed_updates,
                    request_timeout=40,
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
        event = TelegramUpdateReceived(
            update_id=update.update_id,
            chat_id=_chat_id(update),
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
                await asyncio.sleep(max(1.0, min(exc.after_s or 0.0, 60.0)))
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


async def register_commands(bot: Bot) -> None:
    """The commands menu in every shipped language, and in the default one for all others."""
    for language in (None, *LANGUAGES):
        commands = [
            BotCommand(command=name, description=say(f"command-{name}", language))
            for name in COMMANDS
        ]
        await _with_retries(
            "setMyCommands",
            functools.partial(bot.set_my_commands, commands, language_code=language),
        )
    log.info("commands registered", extra={"commands": ",".join(COMMANDS)})


async def _with_retries(name: str, call: Callable[[], Awaitable[Any]]) -> None:
    delay = 1.0
    while True:
        try:
            await call()
            return
        except Exception as exc:
            wait = max(delay, getattr(exc, "after_s", None) or 0.0)
            log.warning("%s failed; retrying", name, extra={"error": repr(exc), "delay_s": wait})
            await asyncio.sleep(wait)
            delay = min(delay * 2, 30)
