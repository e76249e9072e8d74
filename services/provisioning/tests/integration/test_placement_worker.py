"""The placement worker against the Marzban sandbox and a real, migrated database."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from chassis.db import session_factory, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.messaging.tables import messaging_tables
from chassis.migrations import upgrade_to_head_async
from chassis.worker import RetryPolicy, Wakeup
from contracts.billing import (
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionRemoved,
    SubscriptionShortened,
    SubscriptionSuspended,
)
from contracts.envelope import Envelope
from devstack.pytest_plugin import DatabaseFactory
from provisioning import regions
from provisioning.models import Placement, metadata
from provisioning.panel_watch import PanelWatch
from provisioning.panels.client import PanelClient
from provisioning.panels.directory import PanelDirectory
from provisioning.placements import (
    PlacementWorker,
    SubscriptionChange,
    panel_username,
    record_desired_state,
)
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
    marzban: PanelClient
    outbox: Outbox
    emulator: MarzbanEmulator
    directory: PanelDirectory


async def add_panel(
    sessions: async_sessionmaker[AsyncSession],
    panel_id: str,
    url: str,
    *,
    region: str = "eu",
    weight: int = 1,
    capacity: int = 0,
    protocols: tuple[str, ...] = ("vless",),
) -> None:
    """A region (if new) and a panel in it (or the panel changed), as the command does."""
    async with transaction(sessions) as session:
        if region not in {known.code for known in await regions.regions(session)}:
            await regions.put_region(
                session, regions.RegionConfig(code=region, names={"en": region}, flag="🏳")
            )
        await regions.put_panel(
            session,
            regions.PanelConfig(
                panel_id=panel_id,
                region=region,
                kind="marzban",
                base_url=url,
                username="platform",
                password_ref="env:TEST_PANEL_PASSWORD",
                subscription_base_url=url,
                protocols=protocols,
                capacity=capacity,
                weight=weight,
                enabled=True,
                sandbox=True,
            ),
        )


def directory_of(sessions: async_sessionmaker[AsyncSession]) -> PanelDirectory:
    return PanelDirectory(
        sessions=sessions,
        environment={"TEST_PANEL_PASSWORD": "pw"},
        timeout_s=1.0,
        production=False,
        default_region="nl",
    )


def quick_worker(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    directory: PanelDirectory,
    *,
    concurrency: int = 8,
) -> PlacementWorker:
    """A placement worker with a short lease and quick retries, as the tests run it."""
    return PlacementWorker(
        sessions=sessions,
        outbox=outbox,
        panels=directory,
        concurrency=concurrency,
        lease=timedelta(seconds=5),
        retry=RetryPolicy(0.05, 0.2),
        report_failure_after_attempts=2,
    )


async def activate(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    directory: PanelDirectory,
    *,
    default_region: str,
    region: str | None = None,
    protocol: str | None = None,
) -> uuid.UUID:
    """Billing's first activation of a new subscription (100 GB for 30 days), recorded as
    provisioning's consumer records it; returns the subscription."""
    subscription = uuid.uuid4()
    now = datetime.now(UTC).replace(microsecond=0)
    event = SubscriptionActivated(
        subscription_id=subscription,
        customer_id=uuid.uuid4(),
        plan_id="m1",
        order_id=uuid.uuid4(),
        period_start=now,
        period_end=now + timedelta(days=30),
        traffic_limit_bytes=100 * GIB,
        revision=1,
        region=region,
        protocol=protocol,
    )
    envelope = Envelope.for_event(event, source="/vpn/billing")
    async with transaction(sessions) as session:
        ctx = MessageContext(session, envelope, outbox, event.topic.name, 0, 0)
        await record_desired_state(
            event, ctx, panels=directory, default_region=default_region, wakeup=Wakeup()
        )
    return subscription


@pytest_asyncio.fixture(loop_scope="session")
async def setup(database_factory: DatabaseFactory) -> AsyncIterator[Setup]:
    url = await database_factory("provisioning")
    await upgrade_to_head_async("provisioning:migrations", url)
    engine = create_async_engine(url)
    emulator = MarzbanEmulator(admins=[AdminAccount("platform", "pw", is_sudo=True)])
    async with SandboxServer(
        create_app(emulator, review_interval_s=None), name="marzban"
    ) as server:
        sessions = session_factory(engine)
        await add_panel(sessions, "eu-1", server.url)
        directory = directory_of(sessions)
        await directory.refresh()
        marzban = directory.client("eu-1")
        worker = PlacementWorker(
            sessions=sessions,
            outbox=Outbox(tables, source="/vpn/provisioning"),
            panels=directory,
            concurrency=8,
            lease=timedelta(seconds=5),
            retry=RetryPolicy(0.05, 0.2),
            report_failure_after_attempts=2,
        )
        async with MarzbanSandboxControl(server.url) as panel:
            yield Setup(
                session_factory(engine),
                worker,
                panel,
                marzban,
                Outbox(tables, source="/vpn/provisioning"),
                emulator,
                directory,
            )
        await directory.aclose()
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


async def test_a_user_deleted_on_the_panel_comes_back_with_a_link_that_works(
    setup: Setup,
) -> None:
    subscription = uuid.uuid4()
    await _desire(setup, subscription, days=30, version=1)
    first = (await _settle(setup, subscription)).subscription_url
    assert first is not None
    await setup.marzban.delete_user(panel_username(subscription))  # an operator, by hand
    setup.emulator.clock = lambda: time.time() + 5  # the new user is younger than the link

    await _desire(setup, subscription, days=60, version=2)
    second = (await _settle(setup, subscription)).subscription_url
    assert second is not None
    assert second != first
    async with httpx.AsyncClient() as client:
        # Marzban serves no link signed before its user was created.
        assert (await client.get(first)).status_code == 404
        assert (await client.get(second)).status_code == 200


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


async def _record(setup: Setup, event: SubscriptionChange) -> None:
    envelope = Envelope.for_event(event, source="/vpn/billing")
    async with transaction(setup.sessions) as session:
        ctx = MessageContext(session, envelope, setup.outbox, event.topic.name, 0, 0)
        await record_desired_state(
            event, ctx, panels=setup.directory, default_region="eu", wakeup=Wakeup()
        )


def _period(
    subscription: uuid.UUID, customer: uuid.UUID, end: datetime, revision: int
) -> SubscriptionExtended:
    return SubscriptionExtended(
        subscription_id=subscription,
        customer_id=customer,
        plan_id="m1",
        order_id=uuid.uuid4(),
        period_start=end - timedelta(days=30),
        period_end=end,
        previous_period_end=end - timedelta(days=30),
        traffic_limit_bytes=100 * GIB,
        revision=revision,
    )


def _shortened(
    subscription: uuid.UUID, customer: uuid.UUID, end: datetime, previous: datetime, revision: int
) -> SubscriptionShortened:
    now = datetime.now(UTC)
    end = min(max(end, now), previous - timedelta(seconds=1))
    return SubscriptionShortened(
        subscription_id=subscription,
        customer_id=customer,
        plan_id="m1",
        order_id=uuid.uuid4(),
        refund_id=uuid.uuid4(),
        period_end=end,
        previous_period_end=previous,
        traffic_limit_bytes=100 * GIB,
        revision=revision,
        ended=end <= now,
        shortened_at=now if end > now else end,
    )


async def test_a_refund_moves_the_expiry_back_then_ends_access_and_a_purchase_restores_it(
    setup: Setup,
) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    now = datetime.now(UTC).replace(microsecond=0)
    long_end, short_end = now + timedelta(days=60), now + timedelta(days=30)
    await _record(
        setup,
        SubscriptionActivated(
            subscription_id=subscription,
            customer_id=customer,
            plan_id="m1",
            order_id=uuid.uuid4(),
            period_start=now,
            period_end=long_end,
            traffic_limit_bytes=100 * GIB,
            revision=1,
        ),
    )
    await _settle(setup, subscription)
    before = await setup.panel.user(username)
    assert before is not None

    await _record(setup, _shortened(subscription, customer, short_end, long_end, 2))
    placement = await _settle(setup, subscription)
    assert placement.applied_version == 2
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["expire"]) == ("active", int(short_end.timestamp()))
    assert user["proxies"] == before["proxies"]
    # Access moved, it was not granted anew: no second "access ready" for the customer.
    assert await _events(setup, subscription) == ["provisioning.access.granted.v1"]

    # The longer period comes again (a replay): older than the shortening, it changes nothing.
    await _record(setup, _period(subscription, customer, long_end, 1))
    async with setup.sessions() as session:
        replayed = await session.get(Placement, subscription)
    assert replayed is not None
    assert (replayed.desired_version, replayed.desired_expire) == (2, short_end)

    # The rest is refunded: access ends now and the user is disabled, not deleted.
    await _record(setup, _shortened(subscription, customer, now, short_end, 3))
    await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert user["status"] == "disabled"
    assert user["expire"] <= int(datetime.now(UTC).timestamp())
    # Said once, so that the stable link stops serving it and the bot shows it.
    taken_away = "provisioning.access.status_changed.v1"
    assert await _events(setup, subscription) == ["provisioning.access.granted.v1", taken_away]

    # A purchase after the refund brings the same user back.
    again = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    await _record(setup, _period(subscription, customer, again, 4))
    await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["expire"]) == ("active", int(again.timestamp()))
    assert user["proxies"] == before["proxies"]
    assert await _events(setup, subscription) == [
        "provisioning.access.granted.v1",
        taken_away,
        "provisioning.access.granted.v1",
    ]


async def test_access_ended_before_it_reached_the_panel_creates_no_user(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    await _record(setup, _shortened(subscription, customer, now, now + timedelta(days=30), 2))
    placement = await _settle(setup, subscription)
    assert (placement.applied_version, placement.on_panel) == (1, False)
    assert await setup.panel.user(panel_username(subscription)) is None
    assert await _events(setup, subscription) == []


async def _activated(
    setup: Setup,
    subscription: uuid.UUID,
    customer: uuid.UUID,
    *,
    grace: timedelta | None = None,
    days: int = 30,
    **rules: Any,
) -> datetime:
    """A subscription placed on the panel with 100 GiB for ``days`` (served ``grace``
    longer, with the plan's traffic ``rules``); returns its end."""
    now = datetime.now(UTC).replace(microsecond=0)
    end = now + timedelta(days=days)
    await _record(
        setup,
        SubscriptionActivated(
            subscription_id=subscription,
            customer_id=customer,
            plan_id="m1",
            order_id=uuid.uuid4(),
            period_start=now,
            period_end=end,
            traffic_limit_bytes=100 * GIB,
            revision=1,
            access_until=None if grace is None else end + grace,
            **rules,
        ),
    )
    await _settle(setup, subscription)
    return end


def _suspended(
    subscription: uuid.UUID, customer: uuid.UUID, end: datetime, revision: int
) -> SubscriptionSuspended:
    now = datetime.now(UTC)
    return SubscriptionSuspended(
        subscription_id=subscription,
        customer_id=customer,
        plan_id="m1",
        period_end=end,
        revision=revision,
        suspended_at=now,
        remove_at=now + timedelta(days=30),
    )


def _removed(
    subscription: uuid.UUID, customer: uuid.UUID, end: datetime, revision: int
) -> SubscriptionRemoved:
    return SubscriptionRemoved(
        subscription_id=subscription,
        customer_id=customer,
        plan_id="m1",
        period_end=end,
        revision=revision,
        removed_at=datetime.now(UTC),
    )


async def test_the_panel_serves_through_the_grace_after_the_end(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    end = await _activated(setup, subscription, customer, grace=timedelta(hours=48))
    user = await setup.panel.user(panel_username(subscription))
    assert user is not None
    assert user["expire"] == int((end + timedelta(hours=48)).timestamp())


async def test_suspended_the_user_is_disabled_and_a_payment_brings_back_the_same_link(
    setup: Setup,
) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    before = await setup.panel.user(username)
    assert before is not None
    async with setup.sessions() as session:
        placed = await session.get(Placement, subscription)
    assert placed is not None
    assert placed.subscription_url is not None

    await _record(setup, _suspended(subscription, customer, end, 2))
    placement = await _settle(setup, subscription)
    assert (placement.applied_version, placement.on_panel) == (2, True)
    user = await setup.panel.user(username)
    assert user is not None
    assert user["status"] == "disabled"
    # A replay of the suspension after a payment changes nothing (older revision).
    # The panel signs a new token into each answer; seconds later, a new one for sure.
    setup.emulator.clock = lambda: time.time() + 5
    again = end + timedelta(days=30)
    await _record(setup, _period(subscription, customer, again, 3))
    await _record(setup, _suspended(subscription, customer, end, 2))
    placement = await _settle(setup, subscription)
    assert placement.desired_state == "active"
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["expire"]) == ("active", int(again.timestamp()))
    assert user["proxies"] == before["proxies"]  # the same user: the same link
    assert placement.subscription_url == placed.subscription_url
    async with httpx.AsyncClient() as client:
        served = await client.get(placed.subscription_url)
    assert served.status_code == 200
    assert await _events(setup, subscription) == [
        "provisioning.access.granted.v1",
        "provisioning.access.status_changed.v1",  # disabled: the stable link stops serving
        "provisioning.access.granted.v1",
    ]


async def test_a_suspension_after_a_refund_ended_access_leaves_the_panel_alone(
    setup: Setup,
) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    now = datetime.now(UTC)
    await _record(setup, _shortened(subscription, customer, now, end, 2))
    await _settle(setup, subscription)
    disabled = await setup.panel.user(username)
    assert disabled is not None
    assert disabled["status"] == "disabled"
    await _record(setup, _suspended(subscription, customer, now, 3))
    placement = await _settle(setup, subscription)
    assert (placement.desired_state, placement.desired_revision) == ("suspended", 3)
    assert placement.applied_version == placement.desired_version
    assert await setup.panel.user(username) == disabled  # not edited again


async def test_removed_the_user_is_deleted_and_a_payment_creates_it_again(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    await _record(setup, _suspended(subscription, customer, end, 2))
    await _settle(setup, subscription)
    await _record(setup, _removed(subscription, customer, end, 3))
    placement = await _settle(setup, subscription)
    assert (placement.applied_version, placement.on_panel) == (3, False)
    assert placement.subscription_url is None
    assert await setup.panel.user(username) is None
    await _record(setup, _removed(subscription, customer, end, 3))  # redelivered: nothing
    assert (await _settle(setup, subscription)).applied_version == 3

    again = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    await _record(setup, _period(subscription, customer, again, 4))
    placement = await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["expire"], user["used_traffic"]) == (
        "active",
        int(again.timestamp()),
        0,
    )
    assert placement.on_panel
    assert placement.subscription_url is not None
    assert await _events(setup, subscription) == [
        "provisioning.access.granted.v1",
        "provisioning.access.status_changed.v1",  # disabled, when suspended
        "provisioning.access.status_changed.v1",  # removed
        "provisioning.access.granted.v1",
    ]


async def test_a_renewal_after_a_lapse_carries_nothing_over(setup: Setup) -> None:
    """Paid after the end and its grace, the new period does not continue the old one:
    its allowance is the plan's, not the plan's plus what the lapsed period left."""
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)  # 100 GiB, none of it used
    await _record(setup, _suspended(subscription, customer, end, 2))
    await _settle(setup, subscription)
    start = end + timedelta(days=3)
    await _record(
        setup,
        SubscriptionExtended(
            subscription_id=subscription,
            customer_id=customer,
            plan_id="m1",
            order_id=uuid.uuid4(),
            period_start=start,
            period_end=start + timedelta(days=30),
            previous_period_end=end,
            traffic_limit_bytes=100 * GIB,
            revision=3,
        ),
    )
    await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["data_limit"]) == ("active", 100 * GIB)


async def test_a_stage_change_of_a_subscription_never_placed_does_nothing(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    await _record(setup, _suspended(subscription, customer, datetime.now(UTC), 2))
    async with setup.sessions() as session:
        assert await session.get(Placement, subscription) is None


async def test_a_renewal_after_the_traffic_ran_out_makes_the_user_active_again(
    setup: Setup,
) -> None:
    """Marzban keeps a user limited while its usage is over the limit: a renewal that only
    moved the expiry left a paying customer cut off."""
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    await setup.panel.add_traffic(username, 101 * GIB)
    await setup.panel.run_review()
    limited = await setup.panel.user(username)
    assert limited is not None
    assert limited["status"] == "limited"

    await _record(setup, _period(subscription, customer, end + timedelta(days=30), 2))
    placement = await _settle(setup, subscription)

    assert placement.applied_version == placement.desired_version
    user = await setup.panel.user(username)
    assert user is not None
    assert user["status"] == "active"
    assert (user["used_traffic"], user["data_limit"]) == (0, 100 * GIB)
    assert user["lifetime_used_traffic"] == 101 * GIB
    assert user["proxies"] == limited["proxies"]
    assert await _events(setup, subscription) == ["provisioning.access.granted.v1"] * 2


async def test_an_early_renewal_keeps_what_was_left_of_the_traffic(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    await setup.panel.add_traffic(username, 30 * GIB)

    await _record(setup, _period(subscription, customer, end + timedelta(days=30), 2))
    placement = await _settle(setup, subscription)

    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["used_traffic"], user["data_limit"]) == ("active", 0, 170 * GIB)
    assert (placement.renewal_due, placement.carried_bytes) == (False, 70 * GIB)
    # A later change (a refund's shortening) keeps the carried remainder in the limit.
    await _record(
        setup,
        _shortened(subscription, customer, end + timedelta(days=10), end + timedelta(days=30), 3),
    )
    await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert user["data_limit"] == 170 * GIB


async def test_a_plan_without_carry_over_renews_with_its_allowance_alone(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    await setup.panel.add_traffic(username, 30 * GIB)

    renewal = _period(subscription, customer, end + timedelta(days=30), 2)
    await _record(setup, renewal.model_copy(update={"traffic_carry_over": False}))
    placement = await _settle(setup, subscription)

    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["used_traffic"], user["data_limit"]) == ("active", 0, 100 * GIB)
    assert (placement.renewal_due, placement.carried_bytes, placement.carry_over) == (
        False,
        0,
        False,
    )


async def test_a_monthly_allowance_starts_again_on_the_panel_every_month(setup: Setup) -> None:
    """A three-month plan with 100 GiB a month: the panel resets the usage by itself (its
    ``month`` strategy), a customer who used a month's allowance is back the next month."""
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    monthly = {"traffic_carry_over": False, "traffic_reset": "month"}
    end = await _activated(setup, subscription, customer, days=92, **monthly)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["data_limit"], user["data_limit_reset_strategy"]) == (100 * GIB, "month")
    await setup.panel.add_traffic(username, 100 * GIB)
    await setup.panel.run_review()
    assert (await setup.panel.user(username) or {}).get("status") == "limited"

    setup.emulator.clock = lambda: time.time() + 30 * 86400
    assert username in await setup.panel.run_reset_data_usage()
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["used_traffic"]) == ("active", 0)

    # A renewal keeps the strategy; a refund's shortening too.
    renewal = _period(subscription, customer, end + timedelta(days=92), 2)
    await _record(setup, renewal.model_copy(update=monthly))
    await _settle(setup, subscription)
    await _record(
        setup,
        _shortened(subscription, customer, end + timedelta(days=10), end + timedelta(days=92), 3),
    )
    await _settle(setup, subscription)
    user = await setup.panel.user(username)
    assert user is not None
    assert (user["data_limit"], user["data_limit_reset_strategy"]) == (100 * GIB, "month")


async def test_a_renewal_retried_after_its_reset_counts_the_remainder_once(setup: Setup) -> None:
    """The panel stops answering after the usage was reset: the retry must not take the old
    limit, now unused on the panel, for what was left."""
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    await setup.panel.add_traffic(username, 60 * GIB)
    await _record(setup, _period(subscription, customer, end + timedelta(days=30), 2))
    # As if the first attempt measured 40 GiB left, reset the usage, and lost the rest.
    async with transaction(setup.sessions) as session:
        await session.execute(
            update(Placement)
            .where(Placement.subscription_id == subscription)
            .values(carry_pending=40 * GIB)
        )
    await setup.marzban.reset_usage(username)

    await _settle(setup, subscription)

    user = await setup.panel.user(username)
    assert user is not None
    assert (user["status"], user["data_limit"]) == ("active", 140 * GIB)


async def _status_events(setup: Setup, subscription: uuid.UUID) -> list[dict[str, object]]:
    async with setup.sessions() as session:
        rows = await session.scalars(
            select(tables.outbox.c.payload)
            .where(
                tables.outbox.c.key == str(subscription),
                tables.outbox.c.event_type == "provisioning.access.status_changed.v1",
            )
            .order_by(tables.outbox.c.id)
        )
        return [json.loads(bytes(payload)) for payload in rows]


async def test_the_watch_reports_what_the_panel_did_by_itself_once(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    watch = PanelWatch(
        sessions=setup.sessions, outbox=setup.outbox, panels=setup.directory, page_size=2
    )

    await watch.step()
    assert await _status_events(setup, subscription) == []  # active, as granted

    await setup.panel.add_traffic(username, 100 * GIB)
    await setup.panel.run_review()
    await asyncio.gather(watch.step(), watch.step())  # two replicas at once
    (limited,) = await _status_events(setup, subscription)
    assert (limited["status"], limited["customer_id"]) == ("limited", str(customer))
    assert limited["used_traffic_bytes"] == limited["traffic_limit_bytes"] == 100 * GIB

    # The renewal makes it active again; the grant says so, the watch adds nothing.
    await _record(setup, _period(subscription, customer, end + timedelta(days=30), 2))
    await _settle(setup, subscription)
    await watch.step()
    assert len(await _status_events(setup, subscription)) == 1
