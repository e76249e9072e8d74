"""The notifier's sender against the Telegram sandbox and a real, migrated database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from chassis.db import session_factory, transaction
from chassis.migrations import upgrade_to_head_async
from chassis.worker import RetryPolicy
from devstack.pytest_plugin import DatabaseFactory
from notifier.deliveries import RateLimit, Sender
from notifier.models import Contact, Delivery
from notifier.telegram import TelegramClient
from sandbox.server import SandboxServer
from sandbox.telegram import DEFAULT_BOT, TelegramEmulator, TelegramSandboxControl, create_app

pytestmark = pytest.mark.integration


@dataclass
class Setup:
    sessions: async_sessionmaker[AsyncSession]
    sender: Sender
    telegram: TelegramSandboxControl
    emulator: TelegramEmulator


@pytest_asyncio.fixture(loop_scope="session")
async def setup(database_factory: DatabaseFactory) -> AsyncIterator[Setup]:
    url = await database_factory("notifier")
    await upgrade_to_head_async("notifier:migrations", url)
    engine = create_async_engine(url)
    emulator = TelegramEmulator()
    async with SandboxServer(create_app(emulator), name="telegram") as server:
        client = TelegramClient(api_url=server.url, token=DEFAULT_BOT.token)
        sender = Sender(
            sessions=session_factory(engine),
            telegram=client,
            rate_limit=RateLimit(0),
            concurrency=8,
            retry=RetryPolicy(0.05, 0.2),
            give_up_after_attempts=5,
        )
        async with TelegramSandboxControl(server.url, DEFAULT_BOT.token) as control:
            yield Setup(session_factory(engine), sender, control, emulator)
        await client.aclose()
    await engine.dispose()


ACCESS = {
    "subscription_url": "https://vpn.example/sub/x",
    "expires_at": "2026-12-27T00:00:00+00:00",
    "traffic_limit_bytes": 0,
}


async def _customer(setup: Setup, *, started: bool = True) -> tuple[uuid.UUID, int]:
    user = await setup.telegram.create_user("Ivan", language_code="ru")
    if started:
        await setup.telegram.send_text(user.id, "/start")
    customer_id = uuid.uuid4()
    async with transaction(setup.sessions) as session:
        session.add(Contact(customer_id=customer_id, chat_id=user.id, language="en"))
    return customer_id, user.id


async def _deliver(setup: Setup, customer_id: uuid.UUID, count: int) -> list[str]:
    ids = [f"event:{uuid.uuid4()}" for _ in range(count)]
    async with transaction(setup.sessions) as session:
        for delivery_id in ids:
            await session.execute(
                insert(Delivery).values(
                    delivery_id=delivery_id,
                    customer_id=customer_id,
                    template="access.granted",
                    params=ACCESS,
                    status="pending",
                    attempts=0,
                    next_attempt_at=datetime.now(UTC),
                )
            )
    return ids


async def _statuses(setup: Setup, ids: list[str]) -> dict[str, str]:
    async with setup.sessions() as session:
        rows = await session.execute(
            select(Delivery.delivery_id, Delivery.status).where(Delivery.delivery_id.in_(ids))
        )
        return dict(rows.tuples().all())


async def _drain(setup: Setup, ids: list[str], *, within_s: float = 20) -> dict[str, str]:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        await setup.sender.step()
        statuses = await _statuses(setup, ids)
        if "pending" not in statuses.values() and "sending" not in statuses.values():
            return statuses
        await asyncio.sleep(0.1)
    return await _statuses(setup, ids)


async def test_flood_control_is_waited_out_and_every_message_arrives_once_in_order(
    setup: Setup,
) -> None:
    customer_id, chat = await _customer(setup)
    await setup.telegram.set_rate_limits(True)
    try:
        ids = await _deliver(setup, customer_id, 6)
        statuses = await _drain(setup, ids)
    finally:
        await setup.telegram.set_rate_limits(False)
    assert set(statuses.values()) == {"sent"}
    transcript = await setup.telegram.transcript(chat)
    assert (
        len([m for m in transcript.bot_messages() if "VPN access is ready" in (m.text or "")]) == 6
    )
    async with setup.sessions() as session:
        retried = await session.scalar(
            select(Delivery.attempts)
            .where(Delivery.delivery_id.in_(ids))
            .order_by(Delivery.attempts.desc())
            .limit(1)
        )
    assert retried is not None
    assert retried > 1, "Telegram's 429 was met and waited out"


async def test_a_customer_who_never_started_the_bot_is_not_retried_forever(setup: Setup) -> None:
    customer_id, _ = await _customer(setup, started=False)
    ids = await _deliver(setup, customer_id, 1)
    assert await _drain(setup, ids) == {ids[0]: "failed"}


async def test_a_delivery_abandoned_mid_send_is_never_sent_again(setup: Setup) -> None:
    customer_id, chat = await _customer(setup)
    ids = await _deliver(setup, customer_id, 1)
    async with transaction(setup.sessions) as session:
        await session.execute(
            Delivery.__table__.update()
            .where(Delivery.delivery_id == ids[0])
            .values(status="sending", lease_until=datetime(2000, 1, 1, tzinfo=UTC))
        )
    await setup.sender.sweep_abandoned()
    assert await _drain(setup, ids) == {ids[0]: "uncertain"}
    transcript = await setup.telegram.transcript(chat)
    assert not [m for m in transcript.bot_messages() if "VPN access" in (m.text or "")]
