"""The placement worker against the Marzban sandbox and a real, migrated database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from chassis.db import session_factory, transaction
from chassis.messaging.outbox import Outbox
from chassis.messaging.tables import messaging_tables
from chassis.migrations import upgrade_to_head_async
from chassis.worker import RetryPolicy
from devstack.pytest_plugin import DatabaseFactory
from provisioning.marzban import MarzbanClient
from provisioning.models import Placement, metadata
from provisioning.placements import PanelConfig, PlacementWorker, panel_username
from sandbox.marzban import AdminAccount, MarzbanEmulator, MarzbanSandboxControl, create_app
from sandbox.server import SandboxServer

pytestmark = pytest.mark.integration

GIB = 1024**3
tables = messaging_tables(metadata)


@dataclass
class Setup:
    sessions: async_sessionmaker[AsyncSession]
    worker: PlacementWorker
    panel: MarzbanSandboxControl
    marzban: MarzbanClient


@pytest_asyncio.fixture(loop_scope="session")
async def setup(database_factory: DatabaseFactory) -> AsyncIterator[Setup]:
    url = await database_factory("provisioning")
    await upgrade_to_head_async("provisioning:migrations", url)
    engine = create_async_engine(url)
    emulator = MarzbanEmulator(admins=[AdminAccount("platform", "pw", is_sudo=True)])
    async with SandboxServer(
        create_app(emulator, review_interval_s=None), name="marzban"
    ) as server:
        marzban = MarzbanClient(
            base_url=server.url,
            username="platform",
            password="pw",
            protocols=["vless"],
            timeout_s=1.0,
        )
        worker = PlacementWorker(
            sessions=session_factory(engine),
            outbox=Outbox(tables, source="/vpn/provisioning"),
            marzban=marzban,
            panel=PanelConfig(region="eu", panel_id="eu-1", subscription_base_url=server.url),
            concurrency=8,
            lease=timedelta(seconds=5),
            retry=RetryPolicy(0.05, 0.2),
            report_failure_after_attempts=2,
        )
        async with MarzbanSandboxControl(server.url) as panel:
            yield Setup(session_factory(engine), worker, panel, marzban)
        await marzban.aclose()
    await engine.dispose()


async def _desire(setup: Setup, subscription_id: uuid.UUID, *, days: int, version: int) -> datetime:
    expire = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
    async with transaction(setup.sessions) as session:
        existing = await session.get(Placement, subscription_id)
        if existing is None:
            session.add(
                Placement(
                    subscription_id=subscription_id,
                    customer_id=uuid.uuid4(),
                    region="eu",
                    panel_id="eu-1",
                    panel_username=panel_username(subscription_id),
                    desired_expire=expire,
                    desired_traffic_limit_bytes=100 * GIB,
                    desired_version=version,
                    applied_version=0,
                    on_panel=False,
                    attempts=0,
                    next_attempt_at=datetime.now(UTC),
                    failure_reported=False,
                    gave_up=False,
                )
            )
        else:
            existing.desired_expire = expire
            existing.desired_version = version
            existing.next_attempt_at = datetime.now(UTC)
    return expire


async def _settle(setup: Setup, subscription_id: uuid.UUID, within_s: float = 10) -> Placement:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        await setup.worker.step()
        async with setup.sessions() as session:
            placement = await session.get(Placement, subscription_id)
        assert placement is not None
        if placement.applied_version == placement.desired_version or placement.gave_up:
            return placement
        if asyncio.get_running_loop().time() > deadline:
            return placement
        await asyncio.sleep(0.05)


async def _events(setup: Setup, subscription_id: uuid.UUID) -> list[str]:
    async with setup.sessions() as session:
        rows = await session.execute(
            select(tables.outbox.c.event_type)
            .where(tables.outbox.c.key == str(subscription_id))
            .order_by(tables.outbox.c.id)
        )
        return list(rows.scalars())


async def test_a_placement_becomes_a_panel_user_with_the_plan_expiry_and_limit(
    setup: Setup,
) -> None:
    subscription = uuid.uuid4()
    expire = await _desire(setup, subscription, days=30, version=1)
    placement = await _settle(setup, subscription)
    assert placement.applied_version == 1
    user = await setup.panel.user(panel_username(subscription))
    assert user is not None
    assert user["expire"] == int(expire.timestamp())
    assert user["data_limit"] == 100 * GIB
    assert user["inbounds"]["vless"], "the user is on the vless inbounds, not on none"
    assert placement.subscription_url is not None
    assert placement.subscription_url.startswith("http")
    assert await _events(setup, subscription) == ["provisioning.access.granted.v1"]


async def test_an_extension_moves_the_expiry_and_keeps_the_credentials(setup: Setup) -> None:
    subscription = uuid.uuid4()
    await _desire(setup, subscription, days=30, version=1)
    await _settle(setup, subscription)
    before = await setup.panel.user(panel_username(subscription))
    expire = await _desire(setup, subscription, days=60, version=2)
    await _settle(setup, subscription)
    after = await setup.panel.user(panel_username(subscription))
    assert before is not None
    assert after is not None
    assert after["expire"] == int(expire.timestamp())
    assert after["proxies"] == before["proxies"]


async def test_a_user_left_by_a_lost_answer_is_adopted_not_duplicated(setup: Setup) -> None:
    subscription = uuid.uuid4()
    expire = await _desire(setup, subscription, days=30, version=1)
    placement = await _settle(setup, subscription)
    # As if the answer to the create had been lost: the worker believes nothing is there.
    async with transaction(setup.sessions) as session:
        await session.execute(
            update(Placement)
            .where(Placement.subscription_id == subscription)
            .values(on_panel=False, desired_version=placement.desired_version + 1)
        )
    settled = await _settle(setup, subscription)
    assert settled.applied_version == placement.desired_version + 1
    users = [u for u in await setup.panel.users() if u["username"] == panel_username(subscription)]
    assert len(users) == 1
    assert users[0]["expire"] == int(expire.timestamp())


async def test_while_the_panel_fails_it_retries_reports_once_and_then_succeeds(
    setup: Setup,
) -> None:
    subscription = uuid.uuid4()
    await _desire(setup, subscription, days=30, version=1)
    await setup.panel.outage("error", status=502)
    try:
        placement = await _settle(setup, subscription, within_s=1.5)
        assert placement.applied_version == 0
        assert placement.attempts >= 2
        assert "502" in (placement.last_error or "")
    finally:
        await setup.panel.restore()
    placement = await _settle(setup, subscription)
    assert placement.applied_version == 1
    assert await _events(setup, subscription) == [
        "provisioning.access.failed.v1",
        "provisioning.access.granted.v1",
    ]
