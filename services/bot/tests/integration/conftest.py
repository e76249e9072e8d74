"""The bot's own parts against real PostgreSQL and the Telegram sandbox, in this process.

What Kafka would deliver is handed to the bot's handlers here as the consumer hands it:
in a transaction of the bot's database, with a fresh envelope (a redelivery by Telegram
comes under a new one). The sandbox's clock can be moved, to make a button press old.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bot.app import telegram_bot, update_processor
from bot.models import CatalogMirror, metadata
from bot.settings import BotSettings
from bot.updates import UpdateProcessor
from chassis.db import session_factory, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.messaging.tables import messaging_tables
from chassis.migrations import upgrade_to_head_async
from contracts.envelope import Envelope, Event
from contracts.gateway import TelegramUpdateReceived
from devstack.pytest_plugin import DatabaseFactory
from sandbox.server import SandboxServer
from sandbox.telegram import DEFAULT_BOT, TelegramEmulator, TelegramSandboxControl, create_app

tables = messaging_tables(metadata)
PLAN = {
    "plan_id": "m1",
    "titles": {"ru": "1 месяц", "en": "1 month"},
    "duration_days": 30,
    "prices": [
        {"amount_minor": 19900, "currency": "RUB"},
        {"amount_minor": 150, "currency": "XTR"},
    ],
    "traffic_limit_bytes": 0,
    "active": True,
}
METHODS = [
    {"provider": "yookassa", "currencies": ["RUB"], "recurring": True},
    {"provider": "telegram_stars", "currencies": ["XTR"], "recurring": False},
    {"provider": "wallet", "currencies": ["RUB"], "recurring": False},
]


@dataclass
class MovableClock:
    offset_s: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@dataclass
class BotWorld:
    sessions: async_sessionmaker[AsyncSession]
    emulator: TelegramEmulator
    clock: MovableClock
    telegram: TelegramSandboxControl
    bot: Bot
    processor: UpdateProcessor
    api_url: str
    outbox: Outbox = field(default_factory=lambda: Outbox(tables, source="/vpn/bot"))
    _update_offset: int = 0

    async def updates(self) -> list[dict[str, Any]]:
        """What Telegram would deliver now (read past the bot, which does not poll here)."""
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.api_url}/bot{DEFAULT_BOT.token}/getUpdates",
                json={"offset": self._update_offset, "timeout": 0},
            )
        updates: list[dict[str, Any]] = response.json()["result"]
        if updates:
            self._update_offset = updates[-1]["update_id"] + 1
        return updates

    async def next_update(self) -> dict[str, Any]:
        updates = await self.updates()
        assert len(updates) == 1, updates
        return updates[0]

    async def deliver(self, update: dict[str, Any]) -> None:
        """Hand the update to the bot as the updates consumer does."""
        await self.handle(lambda ctx: self.processor.process(update, ctx), _update_event(update))

    async def handle(
        self, call: Callable[[MessageContext], Awaitable[None]], event: Event
    ) -> MessageContext:
        envelope = Envelope.for_event(event, source="/vpn/test")
        async with transaction(self.sessions) as session:
            ctx = MessageContext(
                session=session,
                envelope=envelope,
                outbox=self.outbox,
                topic=event.topic.name,
                partition=0,
                offset=0,
            )
            await call(ctx)
        for callback in ctx.committed_callbacks:
            callback()
        return ctx


def _update_event(update: dict[str, Any]) -> Event:
    return TelegramUpdateReceived(
        update_id=update["update_id"], chat_id=1, update=update, received_at=datetime.now(UTC)
    )


@pytest_asyncio.fixture(loop_scope="session")
async def world(database_factory: DatabaseFactory) -> AsyncIterator[BotWorld]:
    url = await database_factory("bot")
    await upgrade_to_head_async("bot:migrations", url)
    engine = create_async_engine(url)
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        session.add(
            CatalogMirror(
                id=1,
                catalog_version=1,
                plans=[PLAN],
                topups=[],
                payment_methods=METHODS,
                wallet_currency="RUB",
                received_at=datetime.now(UTC),
            )
        )
    clock = MovableClock()
    emulator = TelegramEmulator(clock=clock)
    async with SandboxServer(create_app(emulator), name="telegram") as server:
        settings = BotSettings(
            telegram_api_url=server.url,
            telegram_bot_token=DEFAULT_BOT.token,
            update_mode="polling",
        )
        bot = telegram_bot(settings)
        async with TelegramSandboxControl(server.url, DEFAULT_BOT.token) as control:
            yield BotWorld(
                sessions=sessions,
                emulator=emulator,
                clock=clock,
                telegram=control,
                bot=bot,
                processor=update_processor(settings, bot),
                api_url=server.url,
            )
        await bot.session.close()
    await engine.dispose()
