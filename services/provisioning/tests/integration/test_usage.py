"""Usage on the Marzban sandbox: the panel watch publishes what changed, in batches, and
tells each threshold of an allowance once, re-armed when the allowance starts again."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from provisioning.panel_watch import PanelWatch
from provisioning.placements import panel_username

from .test_placement_worker import (
    GIB,
    Setup,
    _activated,
    _period,
    _record,
    _settle,
    tables,
)
from .test_placement_worker import setup as setup  # the fixture
from .test_plan_changes import _record_traffic, ten_gib_added

pytestmark = pytest.mark.integration


def _watch(setup: Setup, page_size: int = 2) -> PanelWatch:
    return PanelWatch(
        sessions=setup.sessions, outbox=setup.outbox, panels=setup.directory, page_size=page_size
    )


async def _published(setup: Setup, event_type: str) -> list[dict[str, Any]]:
    async with setup.sessions() as session:
        rows = await session.scalars(
            select(tables.outbox.c.payload)
            .where(tables.outbox.c.event_type == event_type)
            .order_by(tables.outbox.c.id)
        )
        return [json.loads(bytes(payload)) for payload in rows]


async def _told(setup: Setup, subscription: uuid.UUID) -> list[dict[str, Any]]:
    """The subscription's TrafficThresholdReached, in the order they were emitted."""
    return [
        event
        for event in await _published(setup, "provisioning.traffic.threshold_reached.v1")
        if event["subscription_id"] == str(subscription)
    ]


async def _thresholds(setup: Setup, subscription: uuid.UUID) -> list[int]:
    return [event["threshold"] for event in await _told(setup, subscription)]


async def _usages(setup: Setup, subscription: uuid.UUID) -> list[tuple[int, int]]:
    return [
        (usage["used_traffic_bytes"], usage["traffic_limit_bytes"])
        for event in await _published(setup, "provisioning.usage.reported.v1")
        for usage in event["usages"]
        if usage["subscription_id"] == str(subscription)
    ]


async def test_usage_is_published_in_batches_and_only_when_it_changed(setup: Setup) -> None:
    subscriptions = [uuid.uuid4() for _ in range(3)]
    for subscription in subscriptions:
        await _activated(setup, subscription, uuid.uuid4())
    watch = _watch(setup, page_size=50)
    before = len(await _published(setup, "provisioning.usage.reported.v1"))

    await watch.step()
    batches = await _published(setup, "provisioning.usage.reported.v1")
    # First look: everyone's usage, one event for the page (other tests' users included).
    assert len(batches) == before + 1
    assert {str(s) for s in subscriptions} <= {u["subscription_id"] for u in batches[-1]["usages"]}
    assert batches[-1]["panel_id"] == "eu-1"

    await setup.panel.add_traffic(panel_username(subscriptions[1]), 3 * GIB)
    await watch.step()
    batches = await _published(setup, "provisioning.usage.reported.v1")
    assert len(batches) == before + 2
    (changed,) = batches[-1]["usages"]  # only the one whose usage changed
    assert changed["subscription_id"] == str(subscriptions[1])
    assert (changed["used_traffic_bytes"], changed["traffic_limit_bytes"]) == (3 * GIB, 100 * GIB)

    await watch.step()  # nothing changed: nothing published
    assert len(await _published(setup, "provisioning.usage.reported.v1")) == before + 2


async def test_each_threshold_is_told_once_per_allowance_and_again_after_a_renewal(
    setup: Setup,
) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    watch = _watch(setup)
    await watch.step()

    await setup.panel.add_traffic(username, 79 * GIB)
    await watch.step()
    assert await _thresholds(setup, subscription) == []

    await setup.panel.add_traffic(username, 2 * GIB)  # 81 %
    await asyncio.gather(watch.step(), watch.step())  # two replicas at once
    assert await _thresholds(setup, subscription) == [80]
    (told,) = await _told(setup, subscription)
    assert (told["customer_id"], told["used_traffic_bytes"], told["traffic_limit_bytes"]) == (
        str(customer),
        81 * GIB,
        100 * GIB,
    )
    assert told["traffic_reset"] == "none"

    await setup.panel.add_traffic(username, 10 * GIB)  # 91 %: still the same threshold
    await watch.step()
    assert await _thresholds(setup, subscription) == [80]

    await setup.panel.add_traffic(username, 9 * GIB)  # 100 %
    await setup.panel.run_review()  # the panel limits the user
    await asyncio.gather(watch.step(), watch.step())
    assert await _thresholds(setup, subscription) == [80, 100]
    await watch.step()
    assert await _thresholds(setup, subscription) == [80, 100]

    # A renewal starts the allowance again (usage reset, what was left carried: nothing).
    await _record(setup, _period(subscription, customer, end + timedelta(days=30), 2))
    await _settle(setup, subscription)
    await watch.step()
    assert (await _usages(setup, subscription))[-1] == (0, 100 * GIB)
    await setup.panel.add_traffic(username, 100 * GIB)  # all of it in one look
    await watch.step()
    assert await _thresholds(setup, subscription) == [80, 100, 100]  # the highest only


async def test_the_panels_monthly_reset_arms_the_thresholds_again(setup: Setup) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    monthly = {"traffic_carry_over": False, "traffic_reset": "month"}
    await _activated(setup, subscription, customer, days=92, **monthly)
    watch = _watch(setup)
    await setup.panel.add_traffic(username, 85 * GIB)
    await watch.step()
    assert await _thresholds(setup, subscription) == [80]

    setup.emulator.clock = lambda: time.time() + 30 * 86400
    try:
        assert username in await setup.panel.run_reset_data_usage()
    finally:
        setup.emulator.clock = time.time
    await watch.step()
    await setup.panel.add_traffic(username, 85 * GIB)
    await watch.step()
    (_, again) = await _told(setup, subscription)
    assert (again["threshold"], again["traffic_reset"]) == (80, "month")


async def test_a_traffic_pack_that_lifts_the_usage_under_100_percent_arms_it_again(
    setup: Setup,
) -> None:
    subscription, customer = uuid.uuid4(), uuid.uuid4()
    username = panel_username(subscription)
    end = await _activated(setup, subscription, customer)
    watch = _watch(setup)
    await setup.panel.add_traffic(username, 100 * GIB)
    await watch.step()
    assert await _thresholds(setup, subscription) == [100]

    await _record_traffic(setup, ten_gib_added(subscription, customer, end))
    await _settle(setup, subscription)
    await watch.step()  # 100 of 110 GiB: past 80 %, under 100 %
    await setup.panel.add_traffic(username, 10 * GIB)
    await watch.step()
    assert await _thresholds(setup, subscription) == [100, 100]
