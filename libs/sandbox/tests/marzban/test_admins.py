"""§5 Admins: list, modify, delete, the bulk user switches and the usage counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox.marzban import MarzbanSandboxControl

from .conftest import login

NewUser = Callable[..., dict[str, Any]]
SELLER = {
    "username": "seller",
    "is_sudo": False,
    "telegram_id": None,
    "discord_webhook": None,
    "users_usage": 0,
}


@pytest.fixture
async def seller(http: httpx.AsyncClient, control: MarzbanSandboxControl) -> httpx.Headers:
    await control.add_admin("seller", "pw")
    return httpx.Headers({"Authorization": f"Bearer {await login(http, 'seller', 'pw')}"})


async def owned_user(
    http: httpx.AsyncClient, headers: httpx.Headers, new_user: NewUser, name: str, **fields: Any
) -> None:
    response = await http.post("/api/user", json=new_user(name, **fields), headers=headers)
    assert response.status_code == 200, response.text


class TestList:
    async def test_lists_database_admins_with_filters(
        self, api: httpx.AsyncClient, control: MarzbanSandboxControl
    ) -> None:
        await control.add_admin("seller", "pw")
        await control.add_admin("reseller_2", "pw")

        everyone = (await api.get("/api/admins")).json()
        filtered = (await api.get("/api/admins", params={"username": "SELL"})).json()
        page = (await api.get("/api/admins", params={"offset": 1, "limit": 1})).json()

        assert [a["username"] for a in everyone] == ["admin", "seller", "reseller_2"]
        assert everyone[1] == SELLER
        # ILIKE %username%
        assert [a["username"] for a in filtered] == ["seller", "reseller_2"]
        assert [a["username"] for a in page] == ["seller"]

    async def test_reseller_is_not_allowed(
        self, http: httpx.AsyncClient, seller: httpx.Headers
    ) -> None:
        response = await http.get("/api/admins", headers=seller)

        assert (response.status_code, response.json()) == (403, {"detail": "You're not allowed"})


class TestModify:
    async def test_changes_password_and_telegram_id(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, seller: httpx.Headers
    ) -> None:
        answer = await api.put(
            "/api/admin/seller",
            json={"password": "new", "is_sudo": False, "telegram_id": 42},
        )
        old_token = await http.get("/api/admin", headers=seller)

        assert (answer.status_code, answer.json()) == (200, {**SELLER, "telegram_id": 42})
        assert old_token.status_code == 401  # tokens issued before the change are dead
        await login(http, "seller", "new")

    async def test_is_sudo_can_be_granted_but_not_taken_back(
        self, api: httpx.AsyncClient, control: MarzbanSandboxControl
    ) -> None:
        await control.add_admin("seller", "pw")

        granted = (await api.put("/api/admin/seller", json={"is_sudo": True})).json()
        # Now a sudoer, it can no longer be edited by another sudo admin at all.
        refused = await api.put("/api/admin/seller", json={"is_sudo": False})

        assert granted["is_sudo"] is True
        assert (refused.status_code, refused.json()) == (
            403,
            {
                "detail": "You're not allowed to edit another sudoer's account. "
                "Use marzban-cli instead."
            },
        )

    async def test_falsy_values_change_nothing(
        self, api: httpx.AsyncClient, control: MarzbanSandboxControl
    ) -> None:
        await control.add_admin("seller", "pw")
        await api.put("/api/admin/seller", json={"is_sudo": False, "telegram_id": 7})

        answer = (
            await api.put("/api/admin/seller", json={"is_sudo": False, "telegram_id": 0})
        ).json()

        assert answer["telegram_id"] == 7

    async def test_a_sudoer_may_edit_itself(self, api: httpx.AsyncClient) -> None:
        answer = await api.put(
            "/api/admin/admin",
            json={"is_sudo": True, "discord_webhook": "https://discord.com/api/webhooks/1"},
        )

        assert answer.status_code == 200
        assert answer.json()["discord_webhook"] == "https://discord.com/api/webhooks/1"

    async def test_errors(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, seller: httpx.Headers
    ) -> None:
        missing = await api.put("/api/admin/ghost", json={"is_sudo": False})
        # The admin is looked up before the token is read.
        anonymous_missing = await http.put("/api/admin/ghost", json={})
        no_is_sudo = await api.put("/api/admin/seller", json={"password": "x"})
        webhook = await api.put(
            "/api/admin/seller", json={"is_sudo": False, "discord_webhook": "http://evil"}
        )
        by_reseller = await http.put("/api/admin/seller", json={"is_sudo": True}, headers=seller)

        assert (missing.status_code, missing.json()) == (404, {"detail": "Admin not found"})
        assert anonymous_missing.status_code == 404
        assert (no_is_sudo.status_code, no_is_sudo.json()) == (
            422,
            {"detail": {"is_sudo": "Field required"}},
        )
        assert webhook.json() == {
            "detail": {
                "discord_webhook": "Value error, Discord webhook must start with "
                "'https://discord.com'"
            }
        }
        assert (by_reseller.status_code, by_reseller.json()) == (
            403,
            {"detail": "You're not allowed"},
        )


class TestDelete:
    async def test_removes_the_admin_and_orphans_its_users(
        self,
        api: httpx.AsyncClient,
        http: httpx.AsyncClient,
        seller: httpx.Headers,
        new_user: NewUser,
    ) -> None:
        await owned_user(http, seller, new_user, "sold_1")

        removed = await api.delete("/api/admin/seller")
        again = await api.delete("/api/admin/seller")
        user = (await api.get("/api/user/sold_1")).json()

        assert (removed.status_code, removed.json()) == (
            200,
            {"detail": "Admin removed successfully"},
        )
        assert again.status_code == 404
        assert user["admin"] is None

    async def test_a_sudo_admin_cannot_be_deleted(self, api: httpx.AsyncClient) -> None:
        response = await api.delete("/api/admin/admin")

        assert (response.status_code, response.json()) == (
            403,
            {"detail": "You're not allowed to delete sudo accounts. Use marzban-cli instead."},
        )


class TestBulkUsers:
    async def test_disable_then_activate_an_admins_users(
        self,
        api: httpx.AsyncClient,
        http: httpx.AsyncClient,
        seller: httpx.Headers,
        new_user: NewUser,
        control: MarzbanSandboxControl,
    ) -> None:
        await owned_user(http, seller, new_user, "active_1")
        await owned_user(
            http, seller, new_user, "held_1", status="on_hold", on_hold_expire_duration=86400
        )
        await owned_user(http, seller, new_user, "limited_1", data_limit=10)
        await control.add_traffic("limited_1", 20)
        await control.run_review()
        await api.post("/api/user", json=new_user("not_theirs"))

        disabled = await api.post("/api/admin/seller/users/disable")
        after_disable = {u["username"]: u["status"] for u in await control.users()}
        activated = await api.post("/api/admin/seller/users/activate")
        after_activate = {u["username"]: u["status"] for u in await control.users()}

        assert disabled.json() == {"detail": "Users successfully disabled"}
        assert after_disable == {
            "active_1": "disabled",
            "held_1": "disabled",
            "limited_1": "limited",
            "not_theirs": "active",
        }
        assert activated.json() == {"detail": "Users successfully activated"}
        # A never-connected user with an on-hold duration goes back on hold.
        assert after_activate == {
            "active_1": "active",
            "held_1": "on_hold",
            "limited_1": "limited",
            "not_theirs": "active",
        }

    async def test_unknown_admin_and_reseller(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, seller: httpx.Headers
    ) -> None:
        missing = await api.post("/api/admin/ghost/users/disable")
        by_reseller = await http.post("/api/admin/seller/users/activate", headers=seller)

        assert (missing.status_code, missing.json()) == (404, {"detail": "Admin not found"})
        assert by_reseller.status_code == 403


class TestUsage:
    async def test_read_and_reset(
        self,
        api: httpx.AsyncClient,
        http: httpx.AsyncClient,
        seller: httpx.Headers,
        new_user: NewUser,
        control: MarzbanSandboxControl,
    ) -> None:
        await owned_user(http, seller, new_user, "sold_1")
        await control.add_traffic("sold_1", 1234)

        usage = await api.get("/api/admin/usage/seller")
        reset = await api.post("/api/admin/usage/reset/seller")
        after = await api.get("/api/admin/usage/seller")

        assert (usage.status_code, usage.json()) == (200, 1234)
        assert reset.json() == SELLER
        assert after.json() == 0

    @pytest.mark.parametrize("emulator_options", [{"sudoers": {"root": "pw"}}])
    async def test_errors(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, seller: httpx.Headers
    ) -> None:
        missing = await api.get("/api/admin/usage/root")  # an env sudoer has no row
        by_reseller = await http.post("/api/admin/usage/reset/seller", headers=seller)

        assert (missing.status_code, missing.json()) == (404, {"detail": "Admin not found"})
        assert by_reseller.status_code == 403
