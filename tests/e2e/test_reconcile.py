"""Reconciliation end to end: a panel changed behind the platform's back (through the
panel's own API, as an operator or another bot would) is put right in one cycle."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from devstack.customer import subscription_link
from devstack.sandboxes import PANEL_ADMIN, PANEL_PASSWORD

from .conftest import Shop, panel_username, wait_until
from .test_purchase import ACCESS_READY

# A cycle every two seconds: "repaired in one cycle" is then a matter of seconds.
SHOP_ENV = {"PROVISIONING_RECONCILE_INTERVAL_S": "2"}


@pytest_asyncio.fixture(loop_scope="session")
async def panel_api(shop: Shop) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox panel's REST API with an admin's token: what changes it behind our back."""
    async with httpx.AsyncClient(base_url=shop.sandboxes.url("marzban"), timeout=10) as http:
        token = await http.post(
            "/api/admin/token", data={"username": PANEL_ADMIN, "password": PANEL_PASSWORD}
        )
        assert token.status_code == 200, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield http


async def _bought(shop: Shop) -> str:
    customer = await shop.customer()
    await customer.pay(await customer.buy("m1"))
    return panel_username(subscription_link(await customer.wait_for(ACCESS_READY)))


async def _user(panel_api: httpx.AsyncClient, username: str) -> dict | None:
    response = await panel_api.get(f"/api/user/{username}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_panel_corrupted_behind_our_back_is_repaired_in_one_cycle(
    shop: Shop, panel_api: httpx.AsyncClient
) -> None:
    deleted, shortened, disabled = [await _bought(shop) for _ in range(3)]
    paid_expire = (await _user(panel_api, shortened) or {})["expire"]
    proxies = (await _user(panel_api, deleted) or {})["proxies"]

    response = await panel_api.delete(f"/api/user/{deleted}")
    assert response.status_code == 200, response.text
    response = await panel_api.put(f"/api/user/{shortened}", json={"expire": int(time.time())})
    assert response.status_code == 200, response.text
    response = await panel_api.put(f"/api/user/{disabled}", json={"status": "disabled"})
    assert response.status_code == 200, response.text
    # Two users nobody paid for: one named like ours (disabled, never deleted), one not.
    for stranger in ("vpn_nobody_paid", "friend_of_admin"):
        response = await panel_api.post(
            "/api/user", json={"username": stranger, "proxies": {"vless": {}}, "expire": 0}
        )
        assert response.status_code == 200, response.text

    async def repaired() -> bool:
        users = {
            name: await _user(panel_api, name)
            for name in (deleted, shortened, disabled, "vpn_nobody_paid", "friend_of_admin")
        }
        recreated, fixed, enabled, ours, theirs = users.values()
        return (
            recreated is not None
            and recreated["status"] == "active"
            and fixed is not None
            and fixed["expire"] == paid_expire
            and enabled is not None
            and enabled["status"] == "active"
            and ours is not None
            and ours["status"] == "disabled"
            and theirs is not None
            and theirs["status"] == "active"
        )

    await wait_until(repaired, timeout_s=30)
    recreated = await _user(panel_api, deleted)
    assert recreated is not None
    assert set(recreated["proxies"]) == set(proxies), "the same protocols as paid for"
    repairs = [line for _, line in shop.logs.lines if "drift repaired" in line]
    assert repairs, "each repair is logged"
