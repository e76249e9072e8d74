"""Failover end to end: a panel goes down, its customer gets access on another panel of
the region behind the same stable link, and the copy the panel kept is disabled when it
comes back."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg
import httpx
import pytest_asyncio

from devstack.customer import SUBSCRIPTION_LINK, SimulatedCustomer, subscription_link
from devstack.postgres import plain_dsn
from devstack.sandboxes import PANEL_ADMIN, PANEL_PASSWORD
from sandbox.marzban import AdminAccount, MarzbanEmulator, MarzbanSandboxControl, create_app
from sandbox.marzban.records import ProxyRecord
from sandbox.server import SandboxServer

from .conftest import Command, Shop, service_command, wait_until
from .test_purchase import ACCESS_READY, access_messages

# Down after two failed probes a second apart, moved two seconds later.
SHOP_ENV = {"PROVISIONING_HEALTH_DOWN_AFTER": "2", "PROVISIONING_FAILOVER_AFTER_S": "2"}
# Customers are given the gateway's /sub/{token}, not a panel's link.
STABLE_LINKS = True


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
            command = await set_panel(shop, added[panel_id], region, "--weight", weight)
            assert command.status == 0, command.stderr
        await asyncio.sleep(2)  # every replica has read them (PROVISIONING_DIRECTORY_REFRESH_S)
        try:
            yield added
        finally:
            for panel_id, region, _ in (("eu-2", "eu", "0"), ("nl-1", "nl", "0")):
                await set_panel(shop, added[panel_id], region, "--disabled")
            await service_command(
                shop, "provisioning", "region", "set", "nl", "--name", "en=Netherlands",
                "--disabled",
            )  # fmt: skip


async def set_panel(shop: Shop, panel: Panel, region: str, *extra: str) -> Command:
    return await service_command(
        shop, "provisioning", "panel", "set", panel.panel_id, "--region", region,
        "--url", panel.url, "--username", PANEL_ADMIN,
        "--password-ref", "env:PROVISIONING_MARZBAN_PASSWORD", "--sandbox", *extra,
    )  # fmt: skip


async def served_links(link: str, user_agent: str = "v2rayNG/1.8.19") -> list[str]:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(link, headers={"User-Agent": user_agent})
    assert response.status_code == 200, response.text
    return base64.b64decode(response.text).decode().splitlines()


async def test_a_panel_that_goes_down_has_its_customer_served_by_another_within_60_s(
    shop: Shop, panels: dict[str, Panel]
) -> None:
    eu2 = panels["eu-2"]
    customer = await shop.customer()
    known = set(eu2.emulator.users)
    await customer.pay(await customer.buy("m1"))
    link = subscription_link(await customer.wait_for(ACCESS_READY))
    assert link.startswith(f"{shop.sandboxes.gateway_url}/sub/"), "the stable link"
    (username,) = set(eu2.emulator.users) - known  # the heavier panel of the region took it
    assert eu2.emulator.users[username].status == "active"
    on_eu2 = _vless_id(eu2.emulator.users[username].proxy("vless"))
    await wait_until(lambda: _serves(link, on_eu2), timeout_s=10)

    await eu2.control.outage("error", status=502)
    try:
        await wait_until(lambda: _access_count(shop, customer, 2), timeout_s=60)
    finally:
        await eu2.control.restore()
    assert _link((await access_messages(shop, customer))[-1]) == link, "the same link, moved"
    moved = await shop.marzban.user(username)  # eu-1, the region's other panel
    assert moved is not None
    assert moved["status"] == "active"
    # The app fetching the same link now gets the new panel's links, nothing of the old.
    on_eu1 = moved["proxies"]["vless"]["id"]
    assert on_eu1 != on_eu2
    await wait_until(lambda: _serves(link, on_eu1), timeout_s=10)

    # eu-2 answers again: the copy it kept is disabled, so the customer is served once.
    await wait_until(lambda: has_status(eu2.emulator, username, "disabled"), timeout_s=30)


def _vless_id(proxy: ProxyRecord | None) -> str:
    assert proxy is not None
    return proxy.settings["id"]


async def _serves(link: str, user_id: str) -> bool:
    """The link serves that panel user's links, and no one else's."""
    served = await served_links(link)
    return bool(served) and all(f"vless://{user_id}@" in line for line in served)


async def test_a_revoked_link_gets_404_and_the_customer_is_sent_the_new_one(
    shop: Shop, panels: dict[str, Panel]
) -> None:
    customer = await shop.customer()
    await customer.pay(await customer.buy("m1"))
    old = subscription_link(await customer.wait_for(ACCESS_READY))
    assert await served_links(old)
    customer_id = await _customer_id(shop, old)

    command = await service_command(shop, "provisioning", "link", "rotate", customer_id)
    assert command.status == 0, command.stderr
    new = command.stdout.split("link\t", 1)[1].strip()
    assert new != old

    replaced = await customer.wait_for("заменена")
    assert new in (replaced.text or "")
    await wait_until(lambda: _not_found(old), timeout_s=10)
    assert await served_links(new)
    async with httpx.AsyncClient(timeout=5) as http:
        clash = await http.get(new, headers={"User-Agent": "clash-verge/v1.6"})
    assert clash.status_code == 200
    assert clash.text.startswith("mixed-port:"), clash.text


async def _not_found(link: str) -> bool:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(link)).status_code == 404


async def _customer_id(shop: Shop, link: str) -> str:
    """Whose link it is, as the operator finds it: provisioning's own record."""
    token = link.rsplit("/", 1)[-1]
    connection = await asyncpg.connect(plain_dsn(shop.platform.database_url("provisioning")))
    try:
        found = await connection.fetchval(
            "SELECT customer_id FROM customer_links WHERE token = $1", token
        )
    finally:
        await connection.close()
    return str(found)


def _link(text: str) -> str:
    found = SUBSCRIPTION_LINK.search(text)
    assert found is not None, text
    return found.group(0)


async def _access_count(shop: Shop, customer: SimulatedCustomer, count: int) -> bool:
    return len(await access_messages(shop, customer)) >= count


async def has_status(emulator: MarzbanEmulator, username: str, status: str) -> bool:
    user = emulator.users.get(username)
    return user is not None and user.status == status
