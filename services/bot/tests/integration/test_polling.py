"""The bot in polling mode (local development without a public URL) against the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.app import ALLOWED_UPDATES
from bot.models import Customer
from bot.updates import Poller
from devstack.customer import SimulatedCustomer
from sandbox.yookassa import YooKassaSandboxControl

from .conftest import BotWorld, tables

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def running(world: BotWorld) -> AsyncIterator[BotWorld]:
    """The bot polling the sandbox for its updates, as in local development."""
    poller = Poller(
        world.processor,
        sessions=world.sessions,
        outbox=world.outbox,
        allowed_updates=ALLOWED_UPDATES,
    )
    task = asyncio.create_task(poller.run())
    yield world
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_polling_registers_the_customer_and_shows_the_catalog(running: BotWorld) -> None:
    async with YooKassaSandboxControl("http://127.0.0.1:9") as unused_yookassa:
        customer = await SimulatedCustomer.join(
            running.telegram, unused_yookassa, language_code="en", timeout_s=15
        )
        welcome = await customer.start("ref_poll")
        assert "Hi," in (welcome.text or "")
        catalog = await customer.open_catalog()
        assert "1 month — 199\u00a0₽" in " ".join(
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
