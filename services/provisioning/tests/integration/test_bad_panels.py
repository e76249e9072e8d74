"""A panel that answers badly (a refusal with fields no client knows, HTML instead of
JSON, a connection that hangs, credentials that stopped working) is a clear, logged state
of the placement: the worker survives every answer, nothing is lost, and what the panel
refused is handed back to the worker by the operator once fixed."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from starlette.types import ASGIApp, Receive, Scope, Send

from chassis.db import session_factory, transaction
from chassis.messaging.outbox import Outbox
from chassis.migrations import upgrade_to_head_async
from devstack.pytest_plugin import DatabaseFactory
from provisioning.models import Placement
from provisioning.panels.directory import PanelDirectory
from provisioning.placements import (
    FailedPlacement,
    PlacementWorker,
    failed_placements,
    panel_username,
    retry_given_up,
)
from sandbox.marzban import AdminAccount, MarzbanEmulator, create_app
from sandbox.server import SandboxServer

from .test_placement_worker import activate, add_panel, directory_of, quick_worker, tables

pytestmark = pytest.mark.integration

Answer = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def refused_with_unexpected_fields(scope: Scope, receive: Receive, send: Send) -> None:
    # Neither Marzban's {"detail": "..."} nor FastAPI's validation list: fields of its own.
    body = b'{"detail": {"proxies": {"vless": "flow not allowed"}}, "code": 7, "hint": null}'
    await _json(send, 422, body)


async def login_page(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"<!DOCTYPE html><p>Please log in</p>"})


async def hanging(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(30)  # longer than the client's timeout


async def unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
    await _json(send, 401, b'{"detail": "Could not validate credentials"}')


@dataclass
class Misbehaving:
    """The Marzban emulator, except that creating a user gets ``answer`` while one is set."""

    app: ASGIApp
    answer: Answer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        creates = scope["type"] == "http" and (scope["method"], scope["path"]) == (
            "POST",
            "/api/user",
        )
        if creates and self.answer is not None:
            await self.answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    directory: PanelDirectory
    worker: PlacementWorker
    outbox: Outbox
    emulator: MarzbanEmulator
    panel: Misbehaving
    created: list[uuid.UUID] = field(default_factory=list)

    async def activate(self) -> uuid.UUID:
        return await activate(self.sessions, self.outbox, self.directory, default_region="nl")

    async def placement(self, subscription: uuid.UUID) -> Placement:
        async with self.sessions() as session:
            placement = await session.get(Placement, subscription)
        assert placement is not None
        return placement

    async def applied(self, subscription: uuid.UUID, *, within_s: float = 10) -> bool:
        deadline = asyncio.get_running_loop().time() + within_s
        while asyncio.get_running_loop().time() < deadline:
            await self.worker.step()
            placement = await self.placement(subscription)
            if placement.applied_version == placement.desired_version:
                return True
            await asyncio.sleep(0.1)
        return False


@pytest_asyncio.fixture(loop_scope="session")
async def world(database_factory: DatabaseFactory) -> AsyncIterator[World]:
    url = await database_factory("provisioning")
    await upgrade_to_head_async("provisioning:migrations", url)
    engine = create_async_engine(url)
    sessions = session_factory(engine)
    emulator = MarzbanEmulator(admins=[AdminAccount("platform", "pw", is_sudo=True)])
    panel = Misbehaving(create_app(emulator, review_interval_s=None))
    async with SandboxServer(panel, name="nl-1") as server:
        await add_panel(sessions, "nl-1", server.url, region="nl")
        directory = directory_of(sessions)  # a client timeout of one second
        await directory.refresh()
        outbox = Outbox(tables, source="/vpn/provisioning")
        worker = quick_worker(sessions, outbox, directory, concurrency=4)
        yield World(sessions, directory, worker, outbox, emulator, panel)
        await directory.aclose()
    await engine.dispose()


@pytest.mark.parametrize(
    "answer", [login_page, hanging, unauthorized], ids=["html", "hanging", "unauthorized"]
)
async def test_an_answer_the_client_cannot_use_is_retried_until_the_panel_answers_again(
    world: World, answer: Answer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="provisioning.placements")
    world.panel.answer = answer
    subscription = await world.activate()
    try:
        await world.worker.step()  # no exception: the worker goes on
        placement = await world.placement(subscription)
        assert placement.applied_version < placement.desired_version
        assert not placement.gave_up, "not the panel's final word: tried again"
        assert placement.last_error, "the state says why"
        assert any(r.getMessage() == "panel call failed" for r in caplog.records)
        (failed,) = [
            row
            for row in await _failed(world)
            if row.subscription_id == subscription and not row.gave_up
        ]
        assert failed.last_error == placement.last_error
    finally:
        world.panel.answer = None
    assert await world.applied(subscription), "nothing lost: applied once the panel answers"
    assert world.emulator.users[panel_username(subscription)].status == "active"


async def test_a_refusal_is_given_up_reported_and_handed_back_by_the_operator(
    world: World,
) -> None:
    world.panel.answer = refused_with_unexpected_fields
    subscription = await world.activate()
    await world.worker.step()
    placement = await world.placement(subscription)
    assert placement.gave_up, "a 4xx is the panel's final word on that request"
    assert placement.last_error is not None
    assert "422" in placement.last_error
    assert "flow not allowed" in placement.last_error, "the panel's words are kept"
    assert not await world.applied(subscription, within_s=0.5), "given up: not retried alone"

    world.panel.answer = None  # the operator fixed the panel's inbound
    async with transaction(world.sessions) as session:
        assert await retry_given_up(session, panel="nl-1") == [subscription]
    assert await world.applied(subscription)
    assert world.emulator.users[panel_username(subscription)].status == "active"
    assert [row for row in await _failed(world) if row.subscription_id == subscription] == []


async def _failed(world: World) -> list[FailedPlacement]:
    async with world.sessions() as session:
        return await failed_placements(session, panel="nl-1")
