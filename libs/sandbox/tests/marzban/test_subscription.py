"""Rule 9 and ``/sub/{token}``: tokens, revocation, formats and headers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox.marzban import MarzbanEmulator

from .conftest import ManualClock

NewUser = Callable[..., dict[str, Any]]


async def subscribed(api: httpx.AsyncClient, new_user: NewUser, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/user", json=new_user(**fields))
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()
    return user


class TestToken:
    async def test_token_is_base64_of_name_and_time_plus_signature(
        self, api: httpx.AsyncClient, new_user: NewUser, clock: ManualClock
    ) -> None:
        user = await subscribed(api, new_user)

        token = user["subscription_url"].removeprefix("/sub/")
        encoded = token[:-10]
        decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        assert decoded == f"demo_user1,{int(clock.now) + 1}"  # ceil() of a fractional second

    async def test_url_changes_between_responses_and_old_ones_keep_working(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser, clock: ManualClock
    ) -> None:
        first = (await subscribed(api, new_user))["subscription_url"]
        clock.advance(1)
        second = (await api.get("/api/user/demo_user1")).json()["subscription_url"]

        assert first != second
        assert (await http.get(first)).status_code == 200
        assert (await http.get(second)).status_code == 200

    async def test_revoke_sub_kills_earlier_tokens_only(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser, clock: ManualClock
    ) -> None:
        old = (await subscribed(api, new_user))["subscription_url"]
        clock.advance(1)
        revoked = await api.post("/api/user/demo_user1/revoke_sub")
        clock.advance(1)
        fresh = (await api.get("/api/user/demo_user1")).json()["subscription_url"]

        stale = await http.get(old)
        assert revoked.status_code == 200
        assert (stale.status_code, stale.json()) == (404, {"detail": "Not Found"})
        assert (await http.get(fresh)).status_code == 200

    @pytest.mark.parametrize(
        "token", ["short", "ZGVtb191c2VyMSwxNzk1NzMzODU0pXJz9Gb8RX", "!!!!!!!!!!!!!!!!!!!!!"]
    )
    async def test_bad_tokens_are_not_found(self, http: httpx.AsyncClient, token: str) -> None:
        response = await http.get(f"/sub/{token}")

        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})

    async def test_a_token_older_than_the_user_is_not_found(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser, clock: ManualClock
    ) -> None:
        old = (await subscribed(api, new_user))["subscription_url"]
        await api.delete("/api/user/demo_user1")
        clock.advance(5)
        await subscribed(api, new_user)

        assert (await http.get(old)).status_code == 404

    @pytest.mark.parametrize(
        "emulator_options", [{"subscription_url_prefix": "https://sub.example.com/"}]
    )
    async def test_prefix_makes_the_url_absolute(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await subscribed(api, new_user)

        assert user["subscription_url"].startswith("https://sub.example.com/sub/")


class TestContent:
    async def test_default_is_base64_links_with_userinfo_headers(
        self,
        api: httpx.AsyncClient,
        http: httpx.AsyncClient,
        new_user: NewUser,
        emulator: MarzbanEmulator,
    ) -> None:
        user = await subscribed(
            api,
            new_user,
            proxies={"vless": {}, "shadowsocks": {}},
            data_limit=5000,
            expire=1900000000,
        )
        emulator.add_traffic("demo_user1", 1200)

        response = await http.get(user["subscription_url"], headers={"User-Agent": "v2rayNG/1.8.5"})

        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        links = base64.b64decode(response.text).decode().split("\n")
        assert [link.split("://")[0] for link in links] == ["vless", "vless", "ss"]
        assert response.headers["subscription-userinfo"] == (
            "upload=0; download=1200; total=5000; expire=1900000000"
        )
        assert response.headers["content-disposition"] == 'attachment; filename="demo_user1"'
        assert response.headers["profile-title"] == "base64:U3Vic2NyaXB0aW9u"
        assert response.headers["profile-update-interval"] == "12"
        assert response.headers["support-url"] == "https://t.me/"
        assert response.headers["profile-web-page-url"] == str(response.url)
        after = (await api.get("/api/user/demo_user1")).json()
        assert after["sub_last_user_agent"] == "v2rayNG/1.8.5"
        assert after["sub_updated_at"] is not None

    async def test_trailing_slash_and_unlimited_userinfo(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await subscribed(api, new_user)

        response = await http.get(user["subscription_url"] + "/")

        assert response.status_code == 200
        assert (
            response.headers["subscription-userinfo"] == "upload=0; download=0; total=0; expire=0"
        )

    async def test_info_hides_admin_fields(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await subscribed(api, new_user, note="secret")

        info = (await http.get(user["subscription_url"] + "/info")).json()

        assert set(user) - set(info) == {
            "admin",
            "excluded_inbounds",
            "note",
            "inbounds",
            "auto_delete_in_days",
        }
        assert info["username"] == "demo_user1"
        assert info["sub_updated_at"] is None

    async def test_disabled_users_still_get_their_links(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await subscribed(api, new_user)
        await api.put("/api/user/demo_user1", json={"status": "disabled"})

        response = await http.get(user["subscription_url"])

        assert response.status_code == 200
        assert base64.b64decode(response.text).decode().startswith("vless://")

    async def test_outline_client_type(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await subscribed(api, new_user, proxies={"shadowsocks": {"password": "pw"}})

        response = await http.get(user["subscription_url"] + "/outline")

        assert response.headers["content-type"] == "application/json"
        assert json.loads(response.text) == {
            "method": "chacha20-ietf-poly1305",
            "password": "pw",
            "server": "127.0.0.1",
            "server_port": 20084,
            "tag": "🚀 Marz (demo_user1) [Shadowsocks - tcp]",
        }

    async def test_unknown_client_type(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await subscribed(api, new_user)

        response = await http.get(user["subscription_url"] + "/wireguard")

        assert response.status_code == 422
        assert response.json() == {
            "detail": {
                "client_type": "String should match pattern "
                "'sing-box|clash-meta|clash|outline|v2ray|v2ray-json'"
            }
        }

    async def test_browser_gets_a_page(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await subscribed(api, new_user)

        response = await http.get(user["subscription_url"], headers={"Accept": "text/html"})

        assert response.headers["content-type"].startswith("text/html")
        assert "demo_user1" in response.text
