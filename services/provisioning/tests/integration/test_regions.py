"""Many panels in many regions: placement by weight and health, fallbacks, a placement
that waits for a panel, versions and credentials refused, and the regions catalog."""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

import sandbox.marzban.emulator as marzban_emulator
from chassis.db import session_factory, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.migrations import upgrade_to_head_async
from chassis.worker import Wakeup
from contracts.bot import AccessChangeRequested
from contracts.envelope import Envelope
from devstack.pytest_plugin import DatabaseFactory
from provisioning import regions
from provisioning.changes import record_change
from provisioning.domain.health import Thresholds
from provisioning.failover import Failover
from provisioning.health import HealthProber
from provisioning.models import PanelRow, Placement
from provisioning.panels.client import (
    PanelCredentialsRefused,
    PanelIncompatible,
    PanelUnavailable,
)
from provisioning.panels.directory import PanelDirectory
from provisioning.placements import PlacementWorker, panel_username
from sandbox.marzban import AdminAccount, MarzbanEmulator, MarzbanSandboxControl, create_app
from sandbox.marzban.nodes import NodeCreate
from sandbox.server import SandboxServer

from .test_placement_worker import GIB, activate, add_panel, directory_of, quick_worker, tables

pytestmark = pytest.mark.integration


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    directory: PanelDirectory
    worker: PlacementWorker
    outbox: Outbox
    urls: dict[str, str]
    emulators: dict[str, MarzbanEmulator]

    async def activate(
        self, region_default: str = "nl", region: str | None = None, protocol: str | None = None
    ) -> uuid.UUID:
        return await activate(
            self.sessions,
            self.outbox,
            self.directory,
            default_region=region_default,
            region=region,
            protocol=protocol,
        )

    async def placement(self, subscription: uuid.UUID) -> Placement:
        async with self.sessions() as session:
            placement = await session.get(Placement, subscription)
        assert placement is not None
        return placement

    async def settle(self) -> None:
        while await self.worker.step():
            pass

    async def set_health(self, panel_id: str, health: str) -> None:
        async with transaction(self.sessions) as session:
            await session.execute(
                update(PanelRow).where(PanelRow.panel_id == panel_id).values(health=health)
            )
        await self.directory.refresh()


@pytest_asyncio.fixture(loop_scope="session")
async def world(database_factory: DatabaseFactory) -> AsyncIterator[World]:
    url = await database_factory("provisioning")
    await upgrade_to_head_async("provisioning:migrations", url)
    engine = create_async_engine(url)
    sessions = session_factory(engine)
    async with AsyncExitStack() as stack:
        urls, emulators = {}, {}
        for panel_id in ("nl-1", "nl-2", "de-1"):
            emulator = MarzbanEmulator(admins=[AdminAccount("platform", "pw", is_sudo=True)])
            server = await stack.enter_async_context(
                SandboxServer(create_app(emulator, review_interval_s=None), name=panel_id)
            )
            urls[panel_id], emulators[panel_id] = server.url, emulator
        await add_panel(sessions, "de-1", urls["de-1"], region="de")
        await add_panel(sessions, "nl-1", urls["nl-1"], region="nl", weight=2)
        await add_panel(sessions, "nl-2", urls["nl-2"], region="nl", weight=1)
        async with transaction(sessions) as session:
            await regions.put_region(
                session,
                regions.RegionConfig(
                    code="nl", names={"en": "Netherlands"}, flag="🇳🇱", fallbacks=("de",)
                ),
            )
        directory = directory_of(sessions)
        await directory.refresh()
        outbox = Outbox(tables, source="/vpn/provisioning")
        worker = quick_worker(sessions, outbox, directory, concurrency=16)
        yield World(sessions, directory, worker, outbox, urls, emulators)
        await directory.aclose()
    await engine.dispose()


async def test_new_customers_spread_over_their_regions_panels_by_weight(world: World) -> None:
    subscriptions = [await world.activate() for _ in range(30)]
    await world.settle()
    placed = Counter([(await world.placement(s)).panel_id for s in subscriptions])
    assert placed == {"nl-1": 20, "nl-2": 10}
    for subscription in subscriptions:
        placement = await world.placement(subscription)
        assert placement.applied_version == 1
        assert placement.subscription_url is not None
        assert placement.panel_id is not None
        assert placement.subscription_url.startswith(world.urls[placement.panel_id])
        on_panel = world.emulators[placement.panel_id].users
        assert panel_username(subscription) in on_panel


async def test_a_down_panel_takes_no_one_and_a_down_region_falls_back(world: World) -> None:
    await world.set_health("nl-1", "down")
    first = await world.activate()
    assert (await world.placement(first)).panel_id == "nl-2"
    await world.set_health("nl-2", "down")
    second = await world.activate()
    placement = await world.placement(second)
    assert (placement.panel_id, placement.region) == ("de-1", "de")
    await world.settle()
    assert (await world.placement(second)).applied_version == 1


async def test_a_customer_with_nowhere_to_go_waits_for_a_panel_and_is_not_lost(
    world: World,
) -> None:
    for panel_id in ("nl-1", "nl-2", "de-1"):
        await world.set_health(panel_id, "down")
    subscription = await world.activate()
    await world.settle()
    waiting = await world.placement(subscription)
    assert (waiting.panel_id, waiting.applied_version, waiting.gave_up) == (None, 0, False)
    assert "no panel in region nl" in (waiting.last_error or "")

    await world.set_health("nl-2", "healthy")
    async with transaction(world.sessions) as session:  # its retry is due
        await session.execute(
            update(Placement)
            .where(Placement.subscription_id == subscription)
            .values(next_attempt_at=datetime.now(UTC))
        )
    await world.settle()
    placed = await world.placement(subscription)
    assert (placed.panel_id, placed.applied_version) == ("nl-2", 1)


async def test_a_panel_of_another_version_is_refused_before_anything_is_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(marzban_emulator, "PANEL_VERSION", "1.0.0")
    client = world.directory.client("nl-1")
    with pytest.raises(
        PanelIncompatible, match=r"reports Marzban 1\.0\.0; this client speaks 0\.8"
    ):
        await client.probe()
    subscription = await world.activate()
    await world.settle()
    placement = await world.placement(subscription)
    assert placement.applied_version == 0
    assert not placement.gave_up  # it waits for an operator, or another panel
    assert "reports Marzban 1.0.0" in (placement.last_error or "")
    assert world.emulators[placement.panel_id or ""].users == {}


async def test_rotated_credentials_are_a_state_to_fix_not_a_lost_placement(world: World) -> None:
    async with MarzbanSandboxControl(world.urls["nl-2"]) as control:
        await control.set_admin_password("platform", "rotated")
    await world.set_health("nl-1", "down")
    subscription = await world.activate()
    await world.settle()
    placement = await world.placement(subscription)
    assert (placement.panel_id, placement.applied_version, placement.gave_up) == ("nl-2", 0, False)
    assert "login: HTTP 401" in (placement.last_error or "")
    with pytest.raises(PanelCredentialsRefused):
        await world.directory.client("nl-2").probe()


async def test_the_regions_catalog_is_published_when_what_customers_see_changes(
    world: World,
) -> None:
    async def publish() -> int | None:
        async with transaction(world.sessions) as session:
            return await regions.publish_if_changed(session, world.outbox, "nl")

    assert await publish() == 1
    assert await publish() is None
    async with world.sessions() as session:
        (payload,) = (
            await session.scalars(
                select(tables.outbox.c.payload).where(
                    tables.outbox.c.event_type == "provisioning.regions.published.v1"
                )
            )
        ).all()
    published = json.loads(bytes(payload))
    assert published["default_region"] == "nl"
    assert [(r["region"], r["available"]) for r in published["regions"]] == [
        ("de", True),
        ("nl", True),
    ]
    for panel_id in ("nl-1", "nl-2"):
        await world.set_health(panel_id, "down")
    assert await publish() == 2
    async with world.sessions() as session:
        offers = regions.offers(await regions.regions(session), await regions.panels(session), {})
    nl = next(offer for offer in offers if offer.region == "nl")
    assert (nl.available, nl.alternatives, nl.protocols) == (False, ("de",), ())


async def test_the_chosen_protocol_is_the_panel_users_on_a_panel_that_offers_it(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    async with transaction(world.sessions) as session:
        [nl_2] = [panel for panel in await regions.panels(session) if panel.panel_id == "nl-2"]
        await regions.put_panel(session, replace(nl_2, protocols=("vless", "trojan")))
        offers = regions.offers(await regions.regions(session), await regions.panels(session), {})
    await world.directory.refresh()
    assert next(offer for offer in offers if offer.region == "nl").protocols == ("trojan", "vless")

    def protocols_of(subscription: uuid.UUID, panel_id: str | None) -> set[str]:
        user = world.emulators[panel_id or ""].users[panel_username(subscription)]
        return {proxy.protocol for proxy in user.proxies}

    # nl-1 has twice the weight, but only nl-2 offers trojan.
    trojan = [await world.activate(region="nl", protocol="trojan") for _ in range(3)]
    chosen_by_none = await world.activate(region="nl")
    nowhere = await world.activate(region="nl", protocol="shadowsocks")
    await world.settle()
    for subscription in trojan:
        placement = await world.placement(subscription)
        assert (placement.panel_id, placement.protocol) == ("nl-2", "trojan")
        assert protocols_of(subscription, placement.panel_id) == {"trojan"}
    # No choice: every protocol of the panel, as before protocols could be chosen.
    placement = await world.placement(chosen_by_none)
    expected = {"nl-1": {"vless"}, "nl-2": {"vless", "trojan"}}[placement.panel_id or ""]
    assert protocols_of(chosen_by_none, placement.panel_id) == expected
    # Offered by no panel of the region: kept in the region with its panel's protocols,
    # and said so in the log.
    placement = await world.placement(nowhere)
    assert placement.region == "nl"
    assert placement.protocol == "shadowsocks"
    assert "shadowsocks" not in protocols_of(nowhere, placement.panel_id)
    assert any(
        record.message.startswith("the chosen protocol is not on the panel")
        for record in caplog.records
    )


async def test_the_settings_panel_is_added_once_and_reached_as_the_settings_say(
    world: World,
) -> None:
    region = regions.RegionConfig(code="eu", names={"en": "Europe"}, flag="🇪🇺")

    def settings_panel(url: str) -> regions.PanelConfig:
        return regions.PanelConfig(
            panel_id="eu-1",
            region="eu",
            kind="marzban",
            base_url=url,
            username="platform",
            password_ref="env:TEST_PANEL_PASSWORD",
            subscription_base_url="",
            protocols=("vless",),
            capacity=0,
            weight=1,
            enabled=True,
            sandbox=True,
        )

    async with transaction(world.sessions) as session:
        assert await regions.bootstrap(session, region, settings_panel("http://127.0.0.1:1/"))
        await session.execute(  # the operator tunes it
            update(PanelRow).where(PanelRow.panel_id == "eu-1").values(weight=5)
        )
    async with transaction(world.sessions) as session:  # a restart with another URL
        assert not await regions.bootstrap(session, region, settings_panel(world.urls["de-1"]))
    async with world.sessions() as session:
        (panel,) = [p for p in await regions.panels(session) if p.panel_id == "eu-1"]
    assert (panel.base_url, panel.weight) == (world.urls["de-1"], 5)


async def _health_events(world: World) -> list[tuple[str, str, str]]:
    async with world.sessions() as session:
        rows = await session.scalars(
            select(tables.outbox.c.payload)
            .where(tables.outbox.c.event_type == "provisioning.panel.health_changed.v1")
            .order_by(tables.outbox.c.id)
        )
        events = [json.loads(bytes(payload)) for payload in rows]
    return [(e["panel_id"], e["previous"], e["health"]) for e in events]


async def test_probes_move_a_failing_panel_to_down_open_its_circuit_and_bring_it_back(
    world: World,
) -> None:
    prober = HealthProber(world.sessions, world.outbox, world.directory, Thresholds(down_after=3))
    assert await prober.step() == 3  # unknown -> healthy, each
    async with MarzbanSandboxControl(world.urls["nl-1"]) as control:
        await control.outage("error", status=502)
        try:
            for _ in range(3):
                await prober.step()
            with pytest.raises(PanelUnavailable, match="circuit open"):
                world.directory.client("nl-1")
            # Its customers' work fails fast; new customers go to the region's other panel.
            assert (await world.placement(await world.activate())).panel_id == "nl-2"
        finally:
            await control.restore()
    await prober.step()
    world.directory.client("nl-1")  # closed again
    assert [e for e in await _health_events(world) if e[0] == "nl-1"] == [
        ("nl-1", "unknown", "healthy"),
        ("nl-1", "healthy", "degraded"),
        ("nl-1", "degraded", "down"),
        ("nl-1", "down", "healthy"),
    ]
    async with world.sessions() as session:
        row = await session.get(PanelRow, "nl-1")
    assert row is not None
    assert (row.health, row.failures, row.version) == ("healthy", 0, "0.8.4")


async def test_a_protocol_without_an_inbound_makes_the_panel_misconfigured(world: World) -> None:
    async with transaction(world.sessions) as session:
        await session.execute(
            update(PanelRow)
            .where(PanelRow.panel_id == "nl-2")
            .values(protocols=["vless", "hysteria"])
        )
    await world.directory.refresh()
    prober = HealthProber(world.sessions, world.outbox, world.directory, Thresholds())
    await prober.step()
    async with world.sessions() as session:
        row = await session.get(PanelRow, "nl-2")
    assert row is not None
    assert (row.health, row.health_reason) == ("misconfigured", "no inbound for hysteria")
    # It takes no new customers until an operator fixes it.
    await world.set_health("nl-1", "down")
    assert (await world.placement(await world.activate())).panel_id == "de-1"


async def test_a_panel_down_long_enough_has_its_customers_moved_and_its_copies_disabled(
    world: World,
) -> None:
    prober = HealthProber(world.sessions, world.outbox, world.directory, Thresholds(down_after=1))
    failover = Failover(
        sessions=world.sessions,
        panels=world.directory,
        placements_wakeup=Wakeup(),
        after=timedelta(0),
    )
    subscriptions = [await world.activate() for _ in range(6)]
    await world.settle()
    on_nl1 = [s for s in subscriptions if (await world.placement(s)).panel_id == "nl-1"]
    assert len(on_nl1) == 4
    first_links = {s: (await world.placement(s)).subscription_url for s in on_nl1}

    async with MarzbanSandboxControl(world.urls["nl-1"]) as control:
        await control.outage("error", status=502)
        try:
            await prober.step()  # down
            assert await failover.step() == 4
            await world.settle()
        finally:
            await control.restore()
    for subscription in on_nl1:
        moved = await world.placement(subscription)
        assert (moved.panel_id, moved.applied_version, moved.stale_panels) == ("nl-2", 2, ["nl-1"])
        assert moved.subscription_url is not None
        assert moved.subscription_url.startswith(world.urls["nl-2"])
        assert moved.subscription_url != first_links[subscription]
        assert world.emulators["nl-2"].users[panel_username(subscription)].status == "active"
    granted = await _granted_panels(world, on_nl1[0])
    assert granted == ["nl-1", "nl-2"]  # the customer is given the new access

    # nl-1 answers again: the copies it kept are disabled, not deleted, and forgotten.
    await prober.step()
    assert await failover.step() == 4
    for subscription in on_nl1:
        stale = world.emulators["nl-1"].users[panel_username(subscription)]
        assert stale.status == "disabled"
        assert (await world.placement(subscription)).stale_panels == []
    assert await failover.step() == 0


async def test_a_region_that_drains_back_returns_its_customers_home_when_the_panel_heals(
    world: World,
) -> None:
    async with transaction(world.sessions) as session:
        await regions.put_region(
            session,
            regions.RegionConfig(
                code="nl",
                names={"en": "Netherlands"},
                flag="🇳🇱",
                fallbacks=("de",),
                move_back="drain",
            ),
        )
    await world.directory.refresh()
    prober = HealthProber(world.sessions, world.outbox, world.directory, Thresholds(down_after=1))
    failover = Failover(
        sessions=world.sessions,
        panels=world.directory,
        placements_wakeup=Wakeup(),
        after=timedelta(0),
    )
    subscriptions = [await world.activate() for _ in range(6)]
    await world.settle()
    home = [s for s in subscriptions if (await world.placement(s)).panel_id == "nl-1"]
    assert len(home) == 4

    async with MarzbanSandboxControl(world.urls["nl-1"]) as control:
        await control.outage("error", status=502)
        try:
            await prober.step()
            assert await failover.step() == 4
            await world.settle()
        finally:
            await control.restore()
    for subscription in home:
        away = await world.placement(subscription)
        assert (away.panel_id, away.home_panel_id) == ("nl-2", "nl-1")

    # nl-1 heals: its copies are disabled at once, then the customers are moved back.
    await prober.step()
    assert await failover.step() == 8  # four copies disabled, four customers sent home
    await world.settle()
    for subscription in home:
        back = await world.placement(subscription)
        assert (back.panel_id, back.home_panel_id, back.stale_panels) == ("nl-1", None, ["nl-2"])
        user = world.emulators["nl-1"].users[panel_username(subscription)]
        assert user.status == "active", "the copy kept at home, adopted and enabled again"
    assert await _granted_panels(world, home[0]) == ["nl-1", "nl-2", "nl-1"]

    # The copies left on the failover's panel are disabled; nothing more to do after.
    assert await failover.step() == 4
    for subscription in home:
        assert world.emulators["nl-2"].users[panel_username(subscription)].status == "disabled"
        assert (await world.placement(subscription)).stale_panels == []
    assert await failover.step() == 0


async def _granted_panels(world: World, subscription: uuid.UUID) -> list[str]:
    return [grant["panel_id"] for grant in await _grants(world, subscription)]


async def _grants(world: World, subscription: uuid.UUID) -> list[dict[str, object]]:
    async with world.sessions() as session:
        rows = await session.scalars(
            select(tables.outbox.c.payload)
            .where(
                tables.outbox.c.key == str(subscription),
                tables.outbox.c.event_type == "provisioning.access.granted.v1",
            )
            .order_by(tables.outbox.c.id)
        )
        return [json.loads(bytes(payload)) for payload in rows]


async def test_the_region_the_customer_chose_is_where_they_are_placed(world: World) -> None:
    chose_de = await world.activate(region="de")
    assert (await world.placement(chose_de)).panel_id == "de-1"
    # A region unknown to provisioning (removed since it was shown): the default one.
    chose_gone = await world.activate(region="xx")
    placement = await world.placement(chose_gone)
    assert (placement.region, placement.panel_id) == ("nl", "nl-1")


async def test_a_panel_with_a_node_down_is_degraded_and_takes_users_only_as_a_last_resort(
    world: World,
) -> None:
    node = world.emulators["nl-1"].add_node(NodeCreate(name="nl-1-b", address="10.0.0.2"))
    prober = HealthProber(world.sessions, world.outbox, world.directory, Thresholds())
    async with MarzbanSandboxControl(world.urls["nl-1"]) as control:
        await control.run_health_check()  # the node connects
        await prober.step()
        async with world.sessions() as session:
            healthy = await session.get(PanelRow, "nl-1")
        assert healthy is not None
        assert healthy.health == "healthy"
        await control.set_node_health(node.id, reachable=False)
        await control.run_health_check()
    await prober.step()
    async with world.sessions() as session:
        row = await session.get(PanelRow, "nl-1")
    assert row is not None
    assert (row.health, row.health_reason) == ("degraded", "nodes down: nl-1-b")
    # nl-1 weighs twice nl-2, but a healthy panel comes first.
    assert (await world.placement(await world.activate())).panel_id == "nl-2"
    await world.set_health("nl-2", "down")
    assert (await world.placement(await world.activate())).panel_id == "nl-1"


async def test_a_placement_left_in_a_region_that_is_gone_is_placed_in_the_default_one(
    world: World,
) -> None:
    subscription = uuid.uuid4()
    async with transaction(world.sessions) as session:
        session.add(
            Placement(
                subscription_id=subscription,
                customer_id=uuid.uuid4(),
                region="xx",  # recorded before the directory knew its regions
                panel_id=None,
                panel_username=panel_username(subscription),
                desired_expire=datetime.now(UTC) + timedelta(days=30),
                desired_traffic_limit_bytes=100 * GIB,
                desired_version=1,
                applied_version=0,
                on_panel=False,
                attempts=0,
                next_attempt_at=datetime.now(UTC),
                failure_reported=False,
                gave_up=False,
            )
        )
    await world.settle()
    placement = await world.placement(subscription)
    assert (placement.region, placement.panel_id, placement.applied_version) == ("nl", "nl-1", 1)


async def _change(
    world: World, subscription: uuid.UUID, *, region: str | None = None, **changes: object
) -> None:
    placement = await world.placement(subscription)
    fields = {"customer_id": placement.customer_id, "subscription_id": subscription, **changes}
    event = AccessChangeRequested.model_validate(
        {"request_id": uuid.uuid4(), "requested_at": datetime.now(UTC), "region": region, **fields}
    )
    envelope = Envelope.for_event(event, source="/vpn/bot")
    async with transaction(world.sessions) as session:
        ctx = MessageContext(session, envelope, world.outbox, event.topic.name, 0, 0)
        await record_change(event, ctx, panels=world.directory, wakeup=Wakeup())


async def test_a_customer_moved_to_another_region_keeps_the_old_user_until_the_new_is_live(
    world: World,
) -> None:
    failover = Failover(
        sessions=world.sessions,
        panels=world.directory,
        placements_wakeup=Wakeup(),
        after=timedelta(0),
    )
    subscription = await world.activate(region="nl")
    await world.settle()
    before = await world.placement(subscription)
    old_panel = before.panel_id or ""

    await _change(world, subscription, region="de")
    moved = await world.placement(subscription)
    assert (moved.region, moved.panel_id, moved.stale_panels) == ("de", "de-1", [old_panel])
    # Not applied on de-1 yet: the old copy is what the customer uses, and stays active.
    assert await failover.step() == 0
    old_user = world.emulators[old_panel].users[panel_username(subscription)]
    assert old_user.status == "active"

    await world.settle()
    assert world.emulators["de-1"].users[panel_username(subscription)].status == "active"
    assert (await _granted_panels(world, subscription))[-1] == "de-1"
    assert await failover.step() == 1
    assert old_user.status == "disabled"
    assert (await world.placement(subscription)).stale_panels == []


async def test_a_protocol_is_changed_in_place_where_the_panel_offers_it_else_moved(
    world: World,
) -> None:
    async with transaction(world.sessions) as session:
        [nl_2] = [panel for panel in await regions.panels(session) if panel.panel_id == "nl-2"]
        await regions.put_panel(session, replace(nl_2, protocols=("vless", "trojan")))
    await world.directory.refresh()

    def protocols_of(subscription: uuid.UUID, panel_id: str) -> set[str]:
        user = world.emulators[panel_id].users[panel_username(subscription)]
        return {proxy.protocol for proxy in user.proxies}

    on_nl2 = await world.activate(region="nl", protocol="trojan")
    await world.settle()
    link = (await world.placement(on_nl2)).subscription_url
    await _change(world, on_nl2, protocol="vless")
    await world.settle()
    placement = await world.placement(on_nl2)
    assert (placement.panel_id, placement.protocol, placement.stale_panels) == ("nl-2", "vless", [])
    assert protocols_of(on_nl2, "nl-2") == {"vless"}
    assert placement.subscription_url == link  # the same user: the customer's link stays
    assert (await _granted_panels(world, on_nl2)) == ["nl-2", "nl-2"]
    assert [grant["protocol"] for grant in await _grants(world, on_nl2)] == ["trojan", "vless"]

    # nl-1 has no trojan: a customer there who asks for it moves to nl-2.
    on_nl1 = await world.activate(region="nl", protocol="vless")
    await world.settle()
    assert (await world.placement(on_nl1)).panel_id == "nl-1"
    await _change(world, on_nl1, protocol="trojan")
    await world.settle()
    placement = await world.placement(on_nl1)
    assert (placement.panel_id, placement.protocol, placement.stale_panels) == (
        "nl-2",
        "trojan",
        ["nl-1"],
    )
    assert protocols_of(on_nl1, "nl-2") == {"trojan"}


async def test_a_change_that_cannot_be_made_leaves_the_access_as_it_is_and_says_why(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="provisioning.changes")
    subscription = await world.activate(region="nl")
    await world.settle()
    before = await world.placement(subscription)

    async def unchanged(reason: str) -> None:
        after = await world.placement(subscription)
        assert (after.region, after.panel_id, after.protocol, after.desired_version) == (
            before.region,
            before.panel_id,
            before.protocol,
            before.desired_version,
        )
        assert any(record.message.startswith(reason) for record in caplog.records), reason
        caplog.clear()

    await _change(world, subscription, region="xx")
    await unchanged("a move to a region provisioning does not have")
    await _change(world, subscription, protocol="shadowsocks")  # no panel of nl has it
    await unchanged("the region cannot take the customer with that protocol now")
    await _change(world, subscription, region="nl")
    await unchanged("a change to what the customer has already")
    await _change(world, subscription, region="de", customer_id=uuid.uuid4())
    await unchanged("a change for a subscription the customer has no access of")
    await world.set_health("de-1", "down")
    try:
        await _change(world, subscription, region="de")  # the button was shown before
        await unchanged("the region cannot take the customer with that protocol now")
    finally:
        await world.set_health("de-1", "healthy")
