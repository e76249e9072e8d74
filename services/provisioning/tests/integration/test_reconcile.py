"""Reconciliation against a Marzban sandbox: each kind of drift repaired in one cycle (and
then none found), a prefixed user nobody pays for disabled and reported but never deleted,
other users and failover's stale copies left alone, and a panel answering badly logged and
survived."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from chassis.db import session_factory, transaction
from chassis.messaging.outbox import Outbox
from chassis.migrations import upgrade_to_head_async
from chassis.worker import Wakeup
from devstack.pytest_plugin import DatabaseFactory
from provisioning.models import Placement
from provisioning.panels.client import DesiredUser, PanelClient
from provisioning.panels.directory import PanelDirectory
from provisioning.placements import PlacementWorker, panel_username
from provisioning.reconcile import Reconciler
from sandbox.marzban import AdminAccount, MarzbanEmulator, MarzbanSandboxControl, create_app
from sandbox.marzban.records import Caller
from sandbox.server import SandboxServer

from .test_placement_worker import GIB, activate, add_panel, directory_of, quick_worker, tables

pytestmark = pytest.mark.integration

DRIFT = "provisioning.panel.drift_repaired.v1"
GRANTED = "provisioning.access.granted.v1"
SUDO = Caller("platform", True, None)


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    directory: PanelDirectory
    worker: PlacementWorker
    reconciler: Reconciler
    outbox: Outbox
    emulator: MarzbanEmulator
    control: MarzbanSandboxControl
    html_url: str

    @property
    def client(self) -> PanelClient:
        return self.directory.client("eu-1")

    async def activate(self, protocol: str | None = None) -> tuple[uuid.UUID, str]:
        subscription = await activate(
            self.sessions, self.outbox, self.directory, default_region="eu", protocol=protocol
        )
        await self.settle()
        return subscription, panel_username(subscription)

    async def settle(self) -> None:
        while await self.worker.step():
            pass

    async def placement(self, subscription: uuid.UUID) -> Placement:
        async with self.sessions() as session:
            placement = await session.get(Placement, subscription)
        assert placement is not None
        return placement

    async def events(self, event_type: str, key: str | None = None) -> list[dict[str, object]]:
        query = select(tables.outbox.c.payload).where(tables.outbox.c.event_type == event_type)
        if key is not None:
            query = query.where(tables.outbox.c.key == key)
        async with self.sessions() as session:
            rows = await session.scalars(query.order_by(tables.outbox.c.id))
            return [json.loads(bytes(payload)) for payload in rows]

    async def drift_of(self, username: str) -> list[str]:
        return [
            str(event["kind"])
            for event in await self.events(DRIFT)
            if event["panel_username"] == username
        ]


async def _html(_: object) -> HTMLResponse:
    return HTMLResponse("<!DOCTYPE html><html><body>Please log in</body></html>")


@pytest_asyncio.fixture(loop_scope="session")
async def world(database_factory: DatabaseFactory) -> AsyncIterator[World]:
    url = await database_factory("provisioning")
    await upgrade_to_head_async("provisioning:migrations", url)
    engine = create_async_engine(url)
    sessions = session_factory(engine)
    emulator = MarzbanEmulator(admins=[AdminAccount("platform", "pw", is_sudo=True)])
    # A proxy's login page where the API should be: 200, and HTML.
    html = Starlette(routes=[Route("/{path:path}", _html, methods=["GET", "POST", "PUT"])])
    async with (
        SandboxServer(create_app(emulator, review_interval_s=None), name="marzban") as server,
        SandboxServer(html, name="html-panel") as html_server,
        MarzbanSandboxControl(server.url) as control,
    ):
        await add_panel(sessions, "eu-1", server.url)
        directory = directory_of(sessions)
        await directory.refresh()
        outbox = Outbox(tables, source="/vpn/provisioning")
        worker = quick_worker(sessions, outbox, directory)
        reconciler = Reconciler(
            sessions=sessions,
            outbox=outbox,
            panels=directory,
            placements_wakeup=Wakeup(),
            page_size=3,  # several pages, even with a few users
        )
        yield World(
            sessions, directory, worker, reconciler, outbox, emulator, control, html_server.url
        )
        await directory.aclose()
    await engine.dispose()


def _repaired(kind: str) -> float:
    return REGISTRY.get_sample_value("provisioning_drift_repaired_total", {"kind": kind}) or 0.0


def _desired(username: str, **changes: object) -> DesiredUser:
    values: dict[str, object] = {
        "username": username,
        "expires_at": int(datetime.now(UTC).timestamp()) + 30 * 86_400,
        "traffic_limit_bytes": 100 * GIB,
        "note": "changed by hand",
    }
    values.update(changes)
    return DesiredUser(**values)  # type: ignore[arg-type]


async def test_each_kind_of_drift_is_repaired_in_one_cycle_and_then_none_is_found(
    world: World,
) -> None:
    client = world.client
    (missing, missing_name), (expiry, expiry_name) = await world.activate(), await world.activate()
    (limit, limit_name), (status, status_name) = await world.activate(), await world.activate()
    (protocols, protocols_name), (late, late_name) = await world.activate(), await world.activate()
    (_, fine_name), (_, limited_name) = await world.activate(), await world.activate()
    kinds = ("missing", "expiry", "limit", "status", "protocols", "enabled_after_expiry")
    before = {kind: _repaired(kind) for kind in kinds}

    # Behind our back: deleted, another expiry, another limit, disabled, another protocol.
    assert await client.delete_user(missing_name)
    await client.modify_user(_desired(expiry_name, expires_at=1_900_000_000))
    await client.modify_user(_desired(limit_name, traffic_limit_bytes=0))
    await client.set_status(status_name, "disabled")
    await client.set_protocols(protocols_name, ["vless", "trojan"])
    # The period of `late` ended and the panel expired it; someone enabled it again by
    # giving it more time (the panel keeps an expired user expired on "active" alone).
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    async with transaction(world.sessions) as session:
        await session.execute(
            update(Placement)
            .where(Placement.subscription_id == late)
            .values(desired_expire=ended, desired_period_end=ended)
        )
    await client.modify_user(_desired(late_name, expires_at=int(ended.timestamp())))
    assert (await client.get_user(late_name)).status == "expired"  # type: ignore[union-attr]
    await client.modify_user(_desired(late_name))
    assert (await client.get_user(late_name)).status == "active"  # type: ignore[union-attr]
    # The panel's own doing, within the desired state: not drift.
    await world.control.add_traffic(limited_name, 100 * GIB)
    await world.control.run_review()
    assert (await client.get_user(limited_name)).status == "limited"  # type: ignore[union-attr]

    await world.reconciler.step()
    await world.settle()

    assert await world.drift_of(missing_name) == ["missing"]
    assert await world.drift_of(expiry_name) == ["expiry"]
    assert await world.drift_of(limit_name) == ["limit"]
    assert await world.drift_of(status_name) == ["status"]
    assert await world.drift_of(protocols_name) == ["protocols"]
    assert await world.drift_of(late_name) == ["expiry", "enabled_after_expiry"]
    assert await world.drift_of(fine_name) == await world.drift_of(limited_name) == []
    assert {kind: _repaired(kind) - before[kind] for kind in kinds} == {
        "missing": 1,
        "expiry": 2,
        "limit": 1,
        "status": 1,
        "protocols": 1,
        "enabled_after_expiry": 1,
    }

    for subscription, name in (
        (missing, missing_name),
        (expiry, expiry_name),
        (limit, limit_name),
        (status, status_name),
        (protocols, protocols_name),
    ):
        user = await client.get_user(name)
        assert user is not None
        placement = await world.placement(subscription)
        assert placement.applied_version == placement.desired_version
        assert user.expires_at == int(placement.desired_expire.timestamp())
        assert user.traffic_limit_bytes == 100 * GIB
        assert (user.status, user.protocols) == ("active", ("vless",))
    late_user = await client.get_user(late_name)
    assert late_user is not None
    assert (late_user.status, late_user.expires_at) == ("disabled", int(ended.timestamp()))

    # The customer hears again only of the user created again (a new user, a new link).
    assert len(await world.events(GRANTED, str(missing))) == 2
    for subscription in (expiry, limit, status, protocols):
        assert len(await world.events(GRANTED, str(subscription))) == 1
    event = (await world.events(DRIFT))[-1]
    assert event["panel_id"] == "eu-1"
    assert event["region"] == "eu"
    assert event["subscription_id"] is not None

    # Repaired: the next cycle finds nothing.
    count = len(await world.events(DRIFT))
    assert await world.reconciler.step() == 0
    assert len(await world.events(DRIFT)) == count


async def test_a_prefixed_user_nobody_pays_for_is_disabled_and_reported_never_deleted(
    world: World,
) -> None:
    client = world.client
    unpaid = "vpn_" + uuid.uuid4().hex[:28]
    foreign = "alice_" + uuid.uuid4().hex[:8]
    for name in (unpaid, foreign):
        await client.create_user(_desired(name))
    # A copy a failover left behind (its placement now on another panel) is failover's.
    stale, stale_name = await world.activate()
    async with transaction(world.sessions) as session:
        await session.execute(
            update(Placement)
            .where(Placement.subscription_id == stale)
            .values(panel_id="eu-2", stale_panels=["eu-1"])
        )
    before = _repaired("unpaid")

    await world.reconciler.step()

    unpaid_user = await client.get_user(unpaid)
    assert unpaid_user is not None  # never deleted
    assert unpaid_user.status == "disabled"
    assert await world.drift_of(unpaid) == ["unpaid"]
    (event,) = [e for e in await world.events(DRIFT) if e["panel_username"] == unpaid]
    assert event["subscription_id"] is None
    assert "no placement" in str(event["detail"])
    assert _repaired("unpaid") == before + 1
    foreign_user = await client.get_user(foreign)
    assert foreign_user is not None
    assert foreign_user.status == "active"  # not ours: untouched
    assert await world.drift_of(foreign) == []
    stale_user = await client.get_user(stale_name)
    assert stale_user is not None
    assert stale_user.status == "active"
    assert await world.drift_of(stale_name) == []

    await world.reconciler.step()  # disabled already: reported once
    assert await world.drift_of(unpaid) == ["unpaid"]


async def test_a_chosen_protocol_is_the_one_the_user_should_have(world: World) -> None:
    panel = world.directory.config("eu-1")
    assert panel is not None
    await add_panel(world.sessions, "eu-1", panel.base_url, protocols=("vless", "vmess"))
    await world.directory.refresh()
    subscription, name = await world.activate(protocol="vmess")
    user = await world.client.get_user(name)
    assert user is not None
    assert user.protocols == ("vmess",)
    await world.reconciler.step()
    assert await world.drift_of(name) == [], "the panel's other protocol is not owed"

    await world.client.set_protocols(name, ["vless", "vmess"])  # behind our back
    await world.reconciler.step()
    assert await world.drift_of(name) == ["protocols"]
    user = await world.client.get_user(name)
    assert user is not None
    assert user.protocols == ("vmess",), "back to the customer's choice"
    assert (await world.placement(subscription)).protocol == "vmess"


async def test_a_placement_with_work_pending_is_left_to_the_worker(world: World) -> None:
    subscription, name = await world.activate()
    await world.client.set_status(name, "disabled")
    async with transaction(world.sessions) as session:
        await session.execute(
            update(Placement)
            .where(Placement.subscription_id == subscription)
            .values(desired_version=Placement.desired_version + 1)
        )
    await world.reconciler.step()
    assert await world.drift_of(name) == []
    placement = await world.placement(subscription)
    assert placement.repair_version is None
    await world.settle()  # the worker's own work brings it back
    user = await world.client.get_user(name)
    assert user is not None
    assert user.status == "active"


async def test_bad_panel_answers_are_logged_and_survived_and_nothing_is_lost(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    subscription, name = await world.activate()
    await world.client.delete_user(name)
    caplog.set_level(logging.WARNING, logger="provisioning.reconcile")

    await world.control.outage(status=500)
    try:
        assert await world.reconciler.step() == 0
    finally:
        await world.control.restore()
    await world.control.outage(status=502)  # nginx's HTML error page
    try:
        assert await world.reconciler.step() == 0
    finally:
        await world.control.restore()
    await world.control.set_admin_password("platform", "rotated")
    try:
        assert await world.reconciler.step() == 0
    finally:
        await world.control.set_admin_password("platform", "pw")
    # Marzban refuses a token issued in the second its admin's password changed.
    await asyncio.sleep(1.1)
    # A panel whose address answers a login page, 200 and HTML; eu-1 answers again.
    await add_panel(world.sessions, "eu-html", world.html_url)
    await world.directory.refresh()
    await world.reconciler.step()
    await world.settle()

    skipped = [r for r in caplog.records if r.getMessage() == "reconciliation skipped"]
    assert len(skipped) == 4
    errors = " ".join(str(getattr(r, "error", "")) for r in skipped)
    assert "HTTP 500" in errors
    assert "HTTP 502" in errors
    assert "login: HTTP 401" in errors
    assert "non-JSON" in errors
    # What could not be read before is repaired once the panel answers again.
    assert await world.drift_of(name) == ["missing"]
    assert await world.client.get_user(name) is not None
    placement = await world.placement(subscription)
    assert placement.applied_version == placement.desired_version
