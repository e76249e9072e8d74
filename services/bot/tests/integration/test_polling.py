"""The bot in polling mode (local development without a public URL) against the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bot.app import ALLOWED_UPDATES, telegram_bot, update_processor
from bot.models import CatalogMirror, Customer, metadata
from bot.settings import BotSettings
from bot.updates import Poller
from chassis.db import session_factory, transaction
from chassis.messaging.outbox import Outbox
from chassis.messaging.tables import messaging_tables
from chassis.migrations import upgrade_to_head_async
from devstack.customer import SimulatedCustomer
from devstack.pytest_plugin import DatabaseFactory
from sandbox.server import SandboxServer
from sandbox.telegram import DEFAULT_BOT, TelegramEmulator, TelegramSandboxControl, create_app
from sandbox.yookassa import YooKassaSandboxControl

pytestmark = pytest.mark.integration

tables = messaging_tables(metadata)
PLAN = {
    "plan_id": "m1",
    "title": {"ru": "1 месяц", "en": "1 month"},
    "duration_days": 30,
    "price": {"amount_minor": 19900, "currency": "RUB"},
    "traffic_limit_bytes": 0,
    "active": True,
}


@dataclass
class Running:
    sessions: async_sessionmaker[AsyncSession]
    telegram: TelegramSandboxControl
    emulator: TelegramEmulator


@pytest_asyncio.fixture(loop_scope="session")
async def running(database_factory: DatabaseFactory) -> AsyncIterator[Running]:
    url = await database_factory("bot")
    await upgrade_to_head_async("bot:migrations", url)
    engine = create_async_engine(url)
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        session.add(
            CatalogMirror(id=1, catalog_version=1, plans=[PLAN], received_at=datetime.now(UTC))
        )
    emulator = TelegramEmulator()
    async with SandboxServer(create_app(emulator), name="telegram") as server:
        settings = BotSettings(
            telegram_api_url=server.url,
            telegram_bot_token=DEFAULT_BOT.token,
            update_mode="polling",
        )
        bot = telegram_bot(settings)
        poller = Poller(
            update_processor(settings, bot),
            sessions=sessions,
            outbox=Outbox(tables, source="/vpn/bot"),
            allowed_updates=ALLOWED_UPDATES,
        )
        task = asyncio.create_task(poller.run())
        async with TelegramSandboxControl(server.url, DEFAULT_BOT.token) as control:
            yield Running(sessions, control, emulator)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bot.session.close()
    await engine.dispose()


async def test_polling_registers_the_customer_and_shows_the_catalog(running: Running) -> None:
    async with YooKassaSandboxControl("http://127.0.0.1:9") as unused_yookassa:
        customer = await SimulatedCustomer.join(
            running.telegram, unused_yookassa, language_code="en", timeout_s=15
        )
        welcome = await customer.start("ref_poll")
        assert "Hi," in (welcome.text or "")
        catalog = await customer.open_catalog()
        assert "1 month — 199 ₽" in " ".join(
            b["text"] for b in (catalog.reply_markup or {})["inline_keyboard"][0]
        )

    async with running.sessions() as session:
        registered = await session.scalar(
            select(Customer).where(Customer.telegram_user_id == customer.user_id)
        )
        events = (await session.execute(select(tables.outbox.c.event_type))).scalars().all()
    assert registered is not None
    assert registered.referral_code == "ref_poll"
    assert registered.language == "en"
    assert "bot.customer.registered.v1" in events
