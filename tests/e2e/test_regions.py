"""Regions end to end: three panels in two regions, the customer choosing where to be
served; purchases land in the region chosen and spread by weight within it, and a
customer who moves to another region keeps their stable link."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest_asyncio

from devstack.customer import SUBSCRIPTION_LINK, SimulatedCustomer, subscription_link
from devstack.sandboxes import PANEL_ADMIN, PANEL_PASSWORD
from sandbox.marzban import AdminAccount, MarzbanEmulator, MarzbanSandboxControl, create_app
from sandbox.server import SandboxServer

from .conftest import Shop, service_command, wait_until
from .test_failover import Panel, has_status, served_links, set_panel
from .test_purchase import ACCESS_READY, access_messages

STABLE_LINKS = True

# de-2 weighs three times de-1: of eight customers of Germany, six go to de-2.
PANELS = (("de-1", "de", "1"), ("de-2", "de", "3"), ("nl-1", "nl", "1"))
REGIONS = (
    ("de", ("ru=Германия", "en=Germany"), "🇩🇪"),
    ("nl", ("ru=Нидерланды", "en=Netherlands"), "🇳🇱"),
)


@pytest_asyncio.fixture(loop_scope="session")
async def panels(shop: Shop) -> AsyncIterator[dict[str, Panel]]:
    """Two regions of fresh panels beside the sandbox's eu-1; taken out of service again
    afterwards (the databases outlive the module)."""
    admins = [AdminAccount(PANEL_ADMIN, PANEL_PASSWORD, is_sudo=True)]
    async with AsyncExitStack() as stack:
        added: dict[str, Panel] = {}
        for panel_id, _, _ in PANELS:
            emulator = MarzbanEmulator(admins=admins)
            server = await stack.enter_async_context(
                SandboxServer(create_app(emulator), name=panel_id)
            )
            control = await stack.enter_async_context(MarzbanSandboxControl(server.url))
            added[panel_id] = Panel(panel_id, server.url, emulator, control)
        for code, names, flag in REGIONS:
            options = [arg for name in names for arg in ("--name", name)]
            command = await service_command(
                shop, "provisioning", "region", "set", code, *options, "--flag", flag
            )
            assert command.status == 0, command.stderr
        for panel_id, region, weight in PANELS:
            command = await set_panel(shop, added[panel_id], region, "--weight", weight)
            assert command.status == 0, command.stderr
        await asyncio.sleep(2)  # every replica has read them (PROVISIONING_DIRECTORY_REFRESH_S)
        try:
            yield added
        finally:
            for panel_id, region, _ in PANELS:
                await set_panel(shop, added[panel_id], region, "--disabled")
            for code, names, _ in REGIONS:
                await service_command(
                    shop, "provisioning", "region", "set", code, "--name", names[1], "--disabled"
                )


async def _buy(shop: Shop, region: str) -> tuple[SimulatedCustomer, str]:
    customer = await shop.customer()
    await customer.pay(await customer.buy("m1", region=region))
    return customer, subscription_link(await customer.wait_for(ACCESS_READY))


def _vless_ids(lines: list[str]) -> set[str]:
    return {line.split("://", 1)[1].split("@", 1)[0] for line in lines if line.startswith("vless")}


def _panel_ids(panel: Panel) -> set[str]:
    return {
        user.proxy("vless").settings["id"]  # type: ignore[union-attr]
        for user in panel.emulator.users.values()
        if user.status == "active" and user.proxy("vless") is not None
    }


async def test_purchases_land_in_the_region_chosen_and_spread_by_weight(
    shop: Shop, panels: dict[str, Panel]
) -> None:
    placed: Counter[str] = Counter()
    for region, customers in (("de", 8), ("nl", 2)):
        for _ in range(customers):
            before = {name: len(panel.emulator.users) for name, panel in panels.items()}
            _, link = await _buy(shop, region)
            assert link.startswith(f"{shop.sandboxes.gateway_url}/sub/")
            (landed,) = [
                name for name, panel in panels.items() if len(panel.emulator.users) > before[name]
            ]
            placed[landed] += 1
    assert placed == {"de-1": 2, "de-2": 6, "nl-1": 2}


async def test_a_customer_who_moves_region_keeps_the_link_and_leaves_nothing_behind(
    shop: Shop, panels: dict[str, Panel]
) -> None:
    de = {name: set(panels[name].emulator.users) for name in ("de-1", "de-2")}
    customer, link = await _buy(shop, "de")
    ((old_panel, (username,)),) = [
        (name, tuple(set(panels[name].emulator.users) - known))
        for name, known in de.items()
        if set(panels[name].emulator.users) - known
    ]
    assert _vless_ids(await served_links(link)) <= _panel_ids(panels[old_panel])

    await customer.start()
    await customer.press("m:subscription")
    await customer.press("m:move")
    await customer.press("ca:nl")
    await wait_until(lambda: _granted_twice(shop, customer), timeout_s=60)

    moved = panels["nl-1"].emulator.users.get(username)
    assert moved is not None, "the same panel user name, on the new region's panel"
    assert moved.status == "active"
    new_id = moved.proxy("vless").settings["id"]  # type: ignore[union-attr]
    # The app keeps its link: it now serves the new panel's user, and only that.
    await wait_until(lambda: _serves_only(link, new_id), timeout_s=10)
    last = SUBSCRIPTION_LINK.search((await access_messages(shop, customer))[-1])
    assert last is not None
    assert last.group(0) == link, "the same link, told again"
    # The copy in Germany is disabled once the new one is live (never deleted).
    await wait_until(
        lambda: has_status(panels[old_panel].emulator, username, "disabled"), timeout_s=30
    )


async def _granted_twice(shop: Shop, customer: SimulatedCustomer) -> bool:
    return len(await access_messages(shop, customer)) >= 2


async def _serves_only(link: str, user_id: str) -> bool:
    served = await served_links(link)
    return bool(served) and _vless_ids(served) == {user_id}
