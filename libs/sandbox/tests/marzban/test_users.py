"""Rules 2-8 and 10 on the user endpoints: create, read, modify, delete and their errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox.marzban import Inbound, MarzbanEmulator

from .conftest import ManualClock

NewUser = Callable[..., dict[str, Any]]
ALL_TAGS = {
    "vless": ["VLESS TCP REALITY", "VLESS WS"],
    "vmess": ["VMess TCP", "VMess Websocket"],
    "trojan": ["Trojan Websocket"],
    "shadowsocks": ["Shadowsocks TCP"],
}
RESPONSE_KEYS = [
    "proxies",
    "expire",
    "data_limit",
    "data_limit_reset_strategy",
    "inbounds",
    "note",
    "sub_updated_at",
    "sub_last_user_agent",
    "online_at",
    "on_hold_expire_duration",
    "on_hold_timeout",
    "auto_delete_in_days",
    "next_plan",
    "username",
    "status",
    "used_traffic",
    "lifetime_used_traffic",
    "created_at",
    "links",
    "subscription_url",
    "excluded_inbounds",
    "admin",
]
NUMBER_NOT_STRING = "an integer or a float, not a string"
USERNAME_ERROR = (
    "Value error, Username only can be 3 to 32 characters and contain a-z, 0-9, "
    "and underscores in between."
)


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/user", json=body)
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()
    return user


class TestCreate:
    async def test_answers_200_with_the_full_user_in_panel_order(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        body = new_user(
            proxies={
                "vless": {"flow": "xtls-rprx-vision"},
                "vmess": {},
                "trojan": {},
                "shadowsocks": {},
            },
            inbounds={"vless": ["VLESS TCP REALITY"]},
            expire=1798325853,
            data_limit=10737418240,
            data_limit_reset_strategy="month",
            note="tg:12345 plan:basic",
        )

        user = await create(api, body)

        assert list(user) == RESPONSE_KEYS
        assert list(user["proxies"]) == ["vless", "vmess", "trojan", "shadowsocks"]
        assert list(user["proxies"]["vless"]) == ["id", "flow"]
        assert user["proxies"]["vless"]["flow"] == "xtls-rprx-vision"
        assert len(user["proxies"]["trojan"]["password"]) == 22
        assert user["proxies"]["shadowsocks"]["method"] == "chacha20-ietf-poly1305"
        assert user["inbounds"] == {**ALL_TAGS, "vless": ["VLESS TCP REALITY"]}
        assert user["excluded_inbounds"] == {
            "vless": ["VLESS WS"],
            "vmess": [],
            "trojan": [],
            "shadowsocks": [],
        }
        assert user["status"] == "active"
        assert (user["used_traffic"], user["lifetime_used_traffic"]) == (0, 0)
        assert user["admin"] == {
            "username": "admin",
            "is_sudo": True,
            "telegram_id": None,
            "discord_webhook": None,
            "users_usage": 0,
        }
        assert [link.split("://")[0] for link in user["links"]] == [
            "vless",
            "vmess",
            "vmess",
            "trojan",
            "ss",
        ]
        assert user["subscription_url"].startswith("/sub/")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?", user["created_at"])

    async def test_duplicate_username_conflicts_case_sensitively(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        await create(api, new_user("alice"))

        duplicate = await api.post("/api/user", json=new_user("alice"))
        other_case = await api.post("/api/user", json=new_user("Alice"))

        assert duplicate.status_code == 409
        assert duplicate.json() == {"detail": "User already exists"}
        assert other_case.status_code == 200

    async def test_zero_means_unlimited_and_is_stored_as_null(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(expire=0, data_limit=0))

        assert (user["expire"], user["data_limit"]) == (None, None)

    async def test_float_data_limit_is_truncated(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(data_limit=1536.9))

        assert user["data_limit"] == 1536

    async def test_unknown_keys_are_ignored(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(colour="blue"))

        assert "colour" not in user

    async def test_client_credentials_are_kept(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        uuid = "35e4e39c-7d5c-4f4b-8b71-558e4f37ff53"
        user = await create(
            api, new_user(proxies={"vmess": {"id": uuid}, "trojan": {"password": "pw-1"}})
        )

        assert user["proxies"] == {
            "vmess": {"id": uuid},
            "trojan": {"password": "pw-1", "flow": ""},
        }

    @pytest.mark.parametrize(
        "emulator_options", [{"inbounds": [Inbound(tag="only vless", protocol="vless", port=1)]}]
    )
    async def test_protocol_without_inbound_is_a_400(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        response = await api.post("/api/user", json=new_user(proxies={"trojan": {}}))

        assert response.status_code == 400
        assert response.json() == {
            "detail": "Protocol ProxyTypes.Trojan is disabled on your server"
        }


class TestInbounds:
    async def test_empty_inbounds_means_every_inbound(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(proxies={"vless": {}, "vmess": {}}, inbounds={}))

        assert user["inbounds"] == {"vless": ALL_TAGS["vless"], "vmess": ALL_TAGS["vmess"]}
        assert user["excluded_inbounds"] == {"vless": [], "vmess": []}
        assert len(user["links"]) == 4

    async def test_omitted_inbounds_creates_a_user_without_any(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        body = new_user(proxies={"vless": {}, "vmess": {}})
        del body["inbounds"]

        user = await create(api, body)

        assert user["status"] == "active"
        assert user["inbounds"] == {"vless": [], "vmess": []}
        assert user["excluded_inbounds"] == {"vless": ALL_TAGS["vless"], "vmess": ALL_TAGS["vmess"]}
        assert user["links"] == []

    async def test_protocol_missing_from_inbounds_gets_all_of_its_tags(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        body = new_user(
            proxies={"vless": {}, "vmess": {}}, inbounds={"vless": ["VLESS WS"], "trojan": []}
        )

        user = await create(api, body)

        assert user["inbounds"] == {"vless": ["VLESS WS"], "vmess": ALL_TAGS["vmess"]}

    async def test_unknown_tag(self, api: httpx.AsyncClient, new_user: NewUser) -> None:
        response = await api.post("/api/user", json=new_user(inbounds={"vless": ["NOPE"]}))

        assert response.status_code == 422
        assert response.json() == {
            "detail": {"inbounds": "Value error, Inbound NOPE doesn't exist"}
        }


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "detail"),
        [
            ({"username": "a.b"}, {"username": USERNAME_ERROR}),
            ({"username": "x" * 33}, {"username": USERNAME_ERROR}),
            ({"proxies": {}}, {"proxies": "Value error, Each user needs at least one proxy"}),
            (
                {"proxies": {"wireguard": {}}},
                {"proxies": "Value error, 'wireguard' is not a valid ProxyTypes"},
            ),
            (
                {"proxies": {"vless": {"flow": "xtls-rprx-direct"}}},
                {"flow": "Input should be '' or 'xtls-rprx-vision'"},
            ),
            (
                {"proxies": {"shadowsocks": {"method": "rc4"}}},
                {
                    "method": "Input should be 'aes-128-gcm', 'aes-256-gcm' or "
                    "'chacha20-ietf-poly1305'"
                },
            ),
            (
                {"data_limit": "10GB"},
                {"data_limit": f"Value error, data_limit must be {NUMBER_NOT_STRING}"},
            ),
            ({"data_limit": -1}, {"data_limit": "Input should be greater than or equal to 0"}),
            (
                {"expire": 1.5},
                {"expire": "Input should be a valid integer, got a number with a fractional part"},
            ),
            ({"status": "disabled"}, {"status": "Input should be 'active' or 'on_hold'"}),
            ({"status": None}, {"status": "Input should be 'active' or 'on_hold'"}),
            (
                {"data_limit_reset_strategy": "daily"},
                {
                    "data_limit_reset_strategy": "Input should be 'no_reset', 'day', 'week', "
                    "'month' or 'year'"
                },
            ),
            (
                {"note": "n" * 501},
                {"note": "Value error, User's note can be a maximum of 500 character"},
            ),
            (
                {"status": "on_hold"},
                {
                    "status": "Value error, User cannot be on hold without a valid "
                    "on_hold_expire_duration."
                },
            ),
            (
                {"status": "on_hold", "on_hold_expire_duration": 86400, "expire": 1900000000},
                {"status": "Value error, User cannot be on hold with specified expire."},
            ),
        ],
    )
    async def test_field_errors_are_keyed_by_field(
        self,
        api: httpx.AsyncClient,
        new_user: NewUser,
        fields: dict[str, Any],
        detail: dict[str, str],
    ) -> None:
        response = await api.post("/api/user", json=new_user(**fields))

        assert response.status_code == 422
        assert response.json() == {"detail": detail}

    async def test_several_errors_come_in_one_dict(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/api/user", json={"username": "a", "data_limit": -5, "proxies": {"vless": {}}}
        )

        assert response.json() == {
            "detail": {
                "data_limit": "Input should be greater than or equal to 0",
                "username": USERNAME_ERROR,
            }
        }

    async def test_missing_username(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/api/user", json={"proxies": {"vless": {}}})

        assert response.json() == {"detail": {"username": "Field required"}}

    async def test_invalid_json_is_keyed_by_the_error_offset(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/api/user",
            content=b'{"username": "bob",}',
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 422
        assert response.json() == {"detail": {"19": "JSON decode error"}}

    async def test_missing_body(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/api/user")

        assert response.json() == {"detail": {"body": "Field required"}}

    async def test_auth_is_checked_before_the_body(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/api/user", json={"username": "x"})

        assert response.status_code == 401

    async def test_username_with_dots_after_the_first_word(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user("abc.def-x@y"))

        assert user["username"] == "abc.def-x@y"


class TestModify:
    async def test_omitted_proxies_keep_credentials(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(proxies={"vless": {}, "trojan": {}}))

        response = await api.put(f"/api/user/{user['username']}", json={"status": "disabled"})

        assert response.status_code == 200
        assert response.json()["proxies"] == user["proxies"]
        assert response.json()["status"] == "disabled"

    async def test_proxies_replace_the_set_and_regenerate_unlisted_credentials(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(proxies={"vless": {}, "trojan": {}}))

        response = await api.put(
            f"/api/user/{user['username']}", json={"proxies": {"vless": {}, "vmess": {}}}
        )

        updated = response.json()
        assert list(updated["proxies"]) == ["vless", "vmess"]
        assert updated["proxies"]["vless"]["id"] != user["proxies"]["vless"]["id"]
        assert updated["inbounds"] == {"vless": ALL_TAGS["vless"], "vmess": ALL_TAGS["vmess"]}

    async def test_resending_the_credentials_keeps_them(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(proxies={"vless": {"flow": "xtls-rprx-vision"}}))

        response = await api.put(f"/api/user/{user['username']}", json={"proxies": user["proxies"]})

        assert response.json()["proxies"] == user["proxies"]

    async def test_inbounds_change_only_the_listed_protocols(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(proxies={"vless": {}, "vmess": {}}))

        response = await api.put(
            f"/api/user/{user['username']}", json={"inbounds": {"vless": ["VLESS WS"]}}
        )

        assert response.json()["inbounds"] == {"vless": ["VLESS WS"], "vmess": ALL_TAGS["vmess"]}
        assert response.json()["excluded_inbounds"] == {"vless": ["VLESS TCP REALITY"], "vmess": []}

    async def test_zero_clears_and_null_keeps(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(expire=1900000000, data_limit=5000))
        name = user["username"]

        kept = await api.put(f"/api/user/{name}", json={"expire": None, "data_limit": None})
        cleared = await api.put(f"/api/user/{name}", json={"expire": 0, "data_limit": 0})

        assert (kept.json()["expire"], kept.json()["data_limit"]) == (1900000000, 5000)
        assert (cleared.json()["expire"], cleared.json()["data_limit"]) == (None, None)

    async def test_next_plan_is_deleted_unless_resent(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        plan = {
            "data_limit": 1000,
            "expire": 0,
            "add_remaining_traffic": False,
            "fire_on_either": True,
        }
        user = await create(api, new_user(next_plan=plan))
        name = user["username"]

        resent = await api.put(f"/api/user/{name}", json={"note": "x", "next_plan": plan})
        omitted = await api.put(f"/api/user/{name}", json={"note": "y"})

        assert user["next_plan"] == plan
        assert resent.json()["next_plan"] == plan
        assert omitted.json()["next_plan"] is None

    async def test_expire_in_the_past_expires_at_once(
        self, api: httpx.AsyncClient, new_user: NewUser, clock: ManualClock
    ) -> None:
        user = await create(api, new_user())
        name = user["username"]

        expired = await api.put(f"/api/user/{name}", json={"expire": int(clock.now) - 60})
        revived = await api.put(f"/api/user/{name}", json={"expire": int(clock.now) + 60})

        assert expired.json()["status"] == "expired"
        assert revived.json()["status"] == "active"

    async def test_data_limit_under_usage_limits_at_once(
        self,
        api: httpx.AsyncClient,
        new_user: NewUser,
        emulator: MarzbanEmulator,
    ) -> None:
        user = await create(api, new_user())
        emulator.add_traffic(user["username"], 2048)

        limited = await api.put(f"/api/user/{user['username']}", json={"data_limit": 1024})
        raised = await api.put(f"/api/user/{user['username']}", json={"data_limit": 4096})

        assert limited.json()["status"] == "limited"
        assert raised.json()["status"] == "active"

    async def test_disabled_user_stays_disabled_when_limits_change(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user())

        response = await api.put(
            f"/api/user/{user['username']}",
            json={"status": "disabled", "data_limit": 10, "expire": 1900000000},
        )

        assert response.json()["status"] == "disabled"

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            (
                {"status": "limited"},
                {"status": "Input should be 'active', 'disabled' or 'on_hold'"},
            ),
            (
                {"inbounds": {"vless": ["NOPE"]}},
                {"inbounds": "Value error, Inbound NOPE doesn't exist"},
            ),
            (
                {"inbounds": {"wireguard": ["VLESS WS"]}},
                {"[key]": "Input should be 'vmess', 'vless', 'trojan' or 'shadowsocks'"},
            ),
        ],
    )
    async def test_modify_errors(
        self,
        api: httpx.AsyncClient,
        new_user: NewUser,
        body: dict[str, Any],
        detail: dict[str, str],
    ) -> None:
        user = await create(api, new_user())

        response = await api.put(f"/api/user/{user['username']}", json=body)

        assert response.status_code == 422
        assert response.json() == {"detail": detail}

    async def test_unknown_user_is_404_before_the_body_is_read(
        self, api: httpx.AsyncClient
    ) -> None:
        response = await api.put("/api/user/ghost", json={"status": "sleeping"})

        assert response.status_code == 404
        assert response.json() == {"detail": "User not found"}

    async def test_null_proxies_crash_the_panel(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user())

        response = await api.put(f"/api/user/{user['username']}", json={"proxies": None})

        assert response.status_code == 500
        assert response.text == "Internal Server Error"


class TestDelete:
    async def test_answers_200_with_a_detail(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user())

        deleted = await api.delete(f"/api/user/{user['username']}")
        again = await api.get(f"/api/user/{user['username']}")

        assert deleted.status_code == 200
        assert deleted.json() == {"detail": "User successfully deleted"}
        assert (again.status_code, again.json()) == (404, {"detail": "User not found"})


class TestActions:
    async def test_reset_zeroes_usage_keeps_lifetime_and_reenables(
        self, api: httpx.AsyncClient, new_user: NewUser, emulator: MarzbanEmulator
    ) -> None:
        user = await create(api, new_user(next_plan={"data_limit": 1}))
        emulator.add_traffic(user["username"], 700)
        await api.put(f"/api/user/{user['username']}", json={"status": "disabled", "next_plan": {}})

        response = await api.post(f"/api/user/{user['username']}/reset")

        reset = response.json()
        assert (reset["used_traffic"], reset["lifetime_used_traffic"]) == (0, 700)
        assert reset["status"] == "active"  # v0.8.4 re-enables a disabled user here
        assert reset["next_plan"] is None

    async def test_reset_keeps_an_expired_user_expired(
        self, api: httpx.AsyncClient, new_user: NewUser, clock: ManualClock
    ) -> None:
        user = await create(api, new_user())
        await api.put(f"/api/user/{user['username']}", json={"expire": int(clock.now) - 1})

        response = await api.post(f"/api/user/{user['username']}/reset")

        assert response.json()["status"] == "expired"

    async def test_revoke_sub_replaces_credentials_but_not_flow(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(
            api,
            new_user(proxies={"vless": {"flow": "xtls-rprx-vision"}, "shadowsocks": {}}),
        )

        response = await api.post(f"/api/user/{user['username']}/revoke_sub")

        revoked = response.json()
        assert revoked["proxies"]["vless"]["id"] != user["proxies"]["vless"]["id"]
        assert revoked["proxies"]["vless"]["flow"] == "xtls-rprx-vision"
        assert (
            revoked["proxies"]["shadowsocks"]["password"]
            != user["proxies"]["shadowsocks"]["password"]
        )
        assert revoked["status"] == "active"

    async def test_active_next_applies_the_plan_and_still_answers_404(
        self, api: httpx.AsyncClient, new_user: NewUser, emulator: MarzbanEmulator
    ) -> None:
        plan = {"data_limit": 5000, "expire": 1900000000, "add_remaining_traffic": True}
        user = await create(api, new_user(data_limit=1000, next_plan=plan))
        emulator.add_traffic(user["username"], 400)

        response = await api.post(f"/api/user/{user['username']}/active-next")
        after = (await api.get(f"/api/user/{user['username']}")).json()

        assert response.status_code == 404
        assert response.json() == {"detail": "User doesn't have next plan"}
        assert (after["data_limit"], after["expire"], after["next_plan"]) == (
            5000,
            1900000000,
            None,
        )
        assert (after["used_traffic"], after["lifetime_used_traffic"]) == (0, 400)

    async def test_active_next_without_a_plan(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user())

        response = await api.post(f"/api/user/{user['username']}/active-next")

        assert (response.status_code, response.json()) == (
            404,
            {"detail": "User doesn't have next plan"},
        )

    async def test_active_next_on_an_unlimited_user_crashes(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        user = await create(api, new_user(next_plan={"data_limit": 5000}))

        response = await api.post(f"/api/user/{user['username']}/active-next")

        assert (response.status_code, response.text) == (500, "Internal Server Error")
        assert (await api.get(f"/api/user/{user['username']}")).json()["next_plan"] is not None


async def test_unknown_route_and_wrong_method(api: httpx.AsyncClient) -> None:
    unknown = await api.get("/api/nothing")
    wrong_method = await api.patch("/api/user/someone")

    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
    assert (wrong_method.status_code, wrong_method.json()) == (
        405,
        {"detail": "Method Not Allowed"},
    )


async def test_inbounds_system_and_core(api: httpx.AsyncClient, new_user: NewUser) -> None:
    await create(api, new_user())

    inbounds = (await api.get("/api/inbounds")).json()
    system = (await api.get("/api/system")).json()
    core = (await api.get("/api/core")).json()

    assert list(inbounds) == ["vless", "vmess", "trojan", "shadowsocks"]
    assert inbounds["vless"][0] == {
        "tag": "VLESS TCP REALITY",
        "protocol": "vless",
        "network": "tcp",
        "tls": "reality",
        "port": 20443,
    }
    assert system["version"] == "0.8.4"
    assert (system["total_user"], system["users_active"]) == (1, 1)
    assert core == {"version": "1.8.24", "started": True, "logs_websocket": "/api/core/logs"}
