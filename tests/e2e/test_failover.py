"""Failover end to end: a panel goes down, its customer gets access on another panel of
the region, and the copy the panel kept is disabled when it comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest_asyncio

from devstack.customer import SUBSCRIPTION_LINK, SimulatedCustomer, subscription_link
from devstack.sandboxes import PANEL_ADMIN, PANEL_PASSWORD
from sandbox.marzban import AdminAccount, MarzbanEmulator, MarzbanSandboxControl, create_app
from sandbox.server import SandboxServer

from .conftest import Command, Shop, panel_username, service_command, wait_until
from .test_purchase import ACCESS_READY, access_messages

# Down after two failed probes a second apart, moved two seconds later.
SHOP_ENV = {"PROVISIONING_HEALTH_DOWN_AFTER": "2", "PROVISIONING_FAILOVER_AFTER_S": "2"}


@dataclass
class Panel:
    panel_id: str
    url: str
    emulator: MarzbanEmulator
    control: MarzbanSandboxControl


@pytest_asyncio.fixture(loop_scope="session")
async def panels(shop: Shop) -> AsyncIterator[dict[str, Panel]]:
    """Two more panels beside the sandbox's eu-1: eu-2 in the same region, nl-1 in
    another; taken out of service again afterwards (the databases outlive the module)."""
    admins = [AdminAccount(PANEL_ADMIN, PANEL_PASSWORD, is_sudo=True)]
    async with AsyncExitStack() as stack:
        added: dict[str, Panel] = {}
        for panel_id in ("eu-2", "nl-1"):
            emulator = MarzbanEmulator(admins=admins)
            server = await stack.enter_async_context(
                SandboxServer(create_app(emulator), name=panel_id)
            )
            control = await stack.enter_async_context(MarzbanSandboxControl(server.url))
            added[panel_id] = Panel(panel_id, server.url, emulator, control)
        command = await service_command(
            shop, "provisioning", "region", "set", "nl", "--name", "ru=Нидерланды",
            "--name", "en=Netherlands", "--flag", "🇳🇱", "--fallback", "eu",
        )  # fmt: skip
        assert command.status == 0, command.stderr
        for panel_id, region, weight in (("eu-2", "eu", "1000"), ("nl-1", "nl", "1")):
            command = await _set_panel(shop, added[panel_id], region, "--weight", weight)
            assert command.status == 0, command.stderr
        await asyncio.sleep(2)  # every replica has read them (PROVISIONING_DIRECTORY_REFRESH_S)
        try:
            yield added
        finally:
            for panel_id, region, _ in (("eu-2", "eu", "0"), ("nl-1", "nl", "0")):
                await _set_panel(shop, added[panel_id], region, "--disabled")
            await service_command(
                shop, "provisioning", "region", "set", "nl", "--name", "en=Netherlands",
                "--disabled",
            )  # fmt: skip


async def _set_panel(shop: Shop, panel: Panel, region: str, *extra: str) -> Command:
    return await service_command(
        shop, "provisioning", "panel", "set", panel.panel_id, "--region", region,
        "--url", panel.url, "--username", PANEL_ADMIN,
        "--password-ref", "env:PROVISIONING_MARZBAN_PASSWORD", "--sandbox", *extra,
    )  # fmt: skip


async def test_a_panel_that_goes_down_has_its_customer_served_by_another_within_60_s(
    shop: Shop, panels: dict[str, Panel]
) -> None:
    eu2 = panels["eu-2"]
    customer = await shop.customer()
    await customer.pay(await customer.buy("m1"))
    first = subscription_link(await customer.wait_for(ACCESS_READY))
    username = panel_username(first)
    assert first.startswith(eu2.url), "the heavier panel of the region takes the customer"
    assert eu2.emulator.users[username].status == "active"

    await eu2.control.outage("error", status=502)
    try:
        await wait_until(lambda: _access_count(shop, customer, 2), timeout_s=60)
    finally:
        await eu2.control.restore()
    second = _link((await access_messages(shop, customer))[-1])
    assert not second.startswith(eu2.url)
    moved = await shop.marzban.user(username)  # eu-1, the region's other panel
    assert moved is not None
    assert moved["status"] == "active"

    # eu-2 answers again: the copy it kept is disabled, so the customer is served once.
    await wait_until(lambda: _status(eu2.emulator, username, "disabled"), timeout_s=30)


def _link(text: str) -> str:
    found = SUBSCRIPTION_LINK.search(text)
    assert found is not None, text
    return found.group(0)


async def _access_count(shop: Shop, customer: SimulatedCustomer, count: int) -> bool:
    return len(await access_messages(shop, customer)) >= count


async def _status(emulator: MarzbanEmulator, username: str, status: str) -> bool:
    user = emulator.users.get(username)
    return user is not None and user.status == status
