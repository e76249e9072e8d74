"""§3 Hosts: ``/api/hosts`` and what hosts do to the share links."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest

from sandbox.marzban import MarzbanEmulator, MarzbanSandboxControl
from sandbox.marzban.variables import format_time_left, jalali, readable_size

from .conftest import ManualClock, login

NewUser = Callable[..., dict[str, Any]]
DEFAULT_HOST = {
    "remark": "🚀 Marz ({USERNAME}) [{PROTOCOL} - {TRANSPORT}]",
    "address": "{SERVER_IP}",
    "port": None,
    "sni": None,
    "host": None,
    "path": None,
    "security": "inbound_default",
    "alpn": "",
    "fingerprint": "",
    "allowinsecure": None,
    "is_disabled": False,
    "mux_enable": False,
    "fragment_setting": None,
    "noise_setting": None,
    "random_user_agent": False,
    "use_sni_as_host": False,
}


def query(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))


async def links_of(api: httpx.AsyncClient, new_user: NewUser, **fields: Any) -> list[str]:
    response = await api.post("/api/user", json=new_user(**fields))
    assert response.status_code == 200, response.text
    links: list[str] = response.json()["links"]
    return links


class TestEndpoints:
    async def test_every_inbound_starts_with_the_default_host(
        self, api: httpx.AsyncClient, emulator: MarzbanEmulator
    ) -> None:
        hosts = (await api.get("/api/hosts")).json()

        assert list(hosts) == [inbound.tag for inbound in emulator.core.inbounds]
        assert all(h == [DEFAULT_HOST] for h in hosts.values())
        assert list(hosts["VLESS WS"][0]) == list(DEFAULT_HOST)

    async def test_put_replaces_the_listed_inbounds_only(self, api: httpx.AsyncClient) -> None:
        answer = await api.put(
            "/api/hosts",
            json={"VLESS WS": [{"remark": "cdn", "address": "cdn.example.com", "port": 443}]},
        )

        assert answer.status_code == 200
        hosts = answer.json()
        assert hosts["VLESS WS"] == [
            {**DEFAULT_HOST, "remark": "cdn", "address": "cdn.example.com", "port": 443}
        ]
        assert hosts["VMess TCP"] == [DEFAULT_HOST]
        assert (await api.get("/api/hosts")).json() == hosts

    async def test_unknown_inbound_is_400_and_nothing_changes(self, api: httpx.AsyncClient) -> None:
        response = await api.put(
            "/api/hosts",
            json={
                "VLESS WS": [{"remark": "x", "address": "y"}],
                "NOPE": [{"remark": "x", "address": "y"}],
            },
        )

        assert (response.status_code, response.json()) == (
            400,
            {"detail": "Inbound NOPE doesn't exist"},
        )
        assert (await api.get("/api/hosts")).json()["VLESS WS"] == [DEFAULT_HOST]

    @pytest.mark.parametrize(
        ("host", "detail"),
        [
            ({"address": "a"}, {"remark": "Field required"}),
            (
                {"remark": "{", "address": "a"},
                {"remark": "Value error, Invalid formatting variables"},
            ),
            (
                {"remark": "r", "address": "a", "security": "reality"},
                {"security": "Input should be 'inbound_default', 'none' or 'tls'"},
            ),
            (
                {"remark": "r", "address": "a", "fragment_setting": "x"},
                {
                    "fragment_setting": "Value error, Fragment setting must be like this: "
                    "length,interval,packet (10-100,100-200,tlshello)."
                },
            ),
            (
                {"remark": "r", "address": "a", "noise_setting": "x"},
                {
                    "noise_setting": "Value error, Noise setting must be like this: "
                    "packet,delay (rand:10-20,100-200)."
                },
            ),
        ],
    )
    async def test_validation(
        self, api: httpx.AsyncClient, host: dict[str, Any], detail: dict[str, str]
    ) -> None:
        response = await api.put("/api/hosts", json={"VLESS WS": [host]})

        assert (response.status_code, response.json()) == (422, {"detail": detail})

    async def test_sudo_only(self, http: httpx.AsyncClient, control: MarzbanSandboxControl) -> None:
        await control.add_admin("seller", "pw")
        seller = {"Authorization": f"Bearer {await login(http, 'seller', 'pw')}"}

        got = await http.get("/api/hosts", headers=seller)
        # The sudo check runs before the body is read.
        put = await http.put("/api/hosts", headers=seller, json={"NOPE": "not a list"})

        assert (got.status_code, got.json()) == (403, {"detail": "You're not allowed"})
        assert put.status_code == 403


class TestLinks:
    async def test_one_link_per_enabled_host(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        await api.put(
            "/api/hosts",
            json={
                "VLESS WS": [
                    {"remark": "A {USERNAME}", "address": "a.example.com"},
                    {"remark": "off", "address": "b.example.com", "is_disabled": True},
                    {
                        "remark": "C {PROTOCOL} {TRANSPORT}",
                        "address": "c.example.com,d.example.com",
                    },
                ],
                "VLESS TCP REALITY": [],
            },
        )

        links = await links_of(api, new_user)

        assert [unquote(urlsplit(link).fragment) for link in links] == [
            "A demo_user1",
            "C VLESS ws",
        ]
        assert urlsplit(links[0]).hostname == "a.example.com"
        assert urlsplit(links[1]).hostname in ("c.example.com", "d.example.com")

    async def test_host_overrides_reach_the_link(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        await api.put(
            "/api/hosts",
            json={
                "VLESS WS": [
                    {
                        "remark": "tls {SERVER_IP}",
                        "address": "edge.example.com",
                        "port": 443,
                        "sni": "sni.example.com",
                        "host": "cdn.example.com",
                        "path": "/custom/{USERNAME}",
                        "security": "tls",
                        "alpn": "h2",
                        "fingerprint": "firefox",
                        "allowinsecure": True,
                        "fragment_setting": "10-100,100-200,tlshello",
                    }
                ]
            },
        )

        (reality, ws) = await links_of(api, new_user)

        assert ws.startswith("vless://")
        assert "@edge.example.com:443?" in ws
        assert query(ws) == {
            "security": "tls",
            "type": "ws",
            "headerType": "",
            "path": "/custom/demo_user1",
            "host": "cdn.example.com",
            "sni": "sni.example.com",
            "fp": "firefox",
            "alpn": "h2",
            "fragment": "10-100,100-200,tlshello",
            "allowInsecure": "1",
        }
        assert unquote(urlsplit(ws).fragment) == "tls 127.0.0.1"
        assert query(reality)["security"] == "reality"  # other inbounds keep their host

    async def test_security_none_drops_reality_and_sni_can_be_the_host(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        await api.put(
            "/api/hosts",
            json={
                "VLESS TCP REALITY": [
                    {"remark": "plain", "address": "p.example.com", "security": "none"},
                    {
                        "remark": "sni",
                        "address": "s.example.com",
                        "sni": "front.example.com",
                        "use_sni_as_host": True,
                    },
                ]
            },
        )

        plain, sni, _ = await links_of(
            api, new_user, proxies={"vless": {"flow": "xtls-rprx-vision"}}
        )

        assert query(plain)["security"] == "none"
        assert "flow" not in query(plain)  # XTLS needs tls or reality
        assert "pbk" not in query(plain)
        assert (query(sni)["sni"], query(sni)["host"]) == ("front.example.com", "front.example.com")

    async def test_vmess_link_takes_the_host_port_and_tls(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        await api.put(
            "/api/hosts",
            json={
                "VMess Websocket": [
                    {"remark": "v", "address": "v.example.com", "port": 8443, "security": "tls"}
                ]
            },
        )

        links = await links_of(api, new_user, proxies={"vmess": {}})
        payload = json.loads(base64.b64decode(links[1].removeprefix("vmess://")))

        assert (payload["add"], payload["port"], payload["tls"]) == ("v.example.com", 8443, "tls")
        assert (payload["sni"], payload["fp"]) == ("", "")

    async def test_status_and_usage_variables(
        self,
        api: httpx.AsyncClient,
        new_user: NewUser,
        clock: ManualClock,
        control: MarzbanSandboxControl,
    ) -> None:
        await api.put(
            "/api/hosts",
            json={
                "VLESS WS": [
                    {
                        "remark": "{STATUS_EMOJI} {STATUS_TEXT} {DATA_USAGE}/{DATA_LIMIT} "
                        "left {DATA_LEFT} {DAYS_LEFT}d {TIME_LEFT} {EXPIRE_DATE} "
                        "{JALALI_EXPIRE_DATE} {NOPE}",
                        "address": "{SERVER_IP}",
                    }
                ],
                "VLESS TCP REALITY": [],
            },
        )
        expire = int(clock.now) + 3 * 86400 + 3600
        await api.post("/api/user", json=new_user(data_limit=2 * 1024**3, expire=expire))
        await control.add_traffic("demo_user1", 512 * 1024**2)

        (link,) = (await api.get("/api/user/demo_user1")).json()["links"]

        expire_day = datetime.fromtimestamp(expire, UTC).date()
        assert unquote(urlsplit(link).fragment) == (
            f"✅ Active 512.0 MB/2.0 GB left 1.5 GB 4d 3d 1h {expire_day.isoformat()} "
            f"{jalali(expire_day)} <missing>"
        )

    async def test_unlimited_user_variables(
        self, api: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        await api.put(
            "/api/hosts",
            json={
                "VLESS WS": [
                    {"remark": "{DATA_LEFT} {DAYS_LEFT} {TIME_LEFT} {EXPIRE_DATE}", "address": "a"}
                ],
                "VLESS TCP REALITY": [],
            },
        )

        (link,) = await links_of(api, new_user)

        assert unquote(urlsplit(link).fragment) == "∞ ∞ ∞ ∞"


class TestVariables:
    @pytest.mark.parametrize(
        ("size", "text"),
        [(0, "0 B"), (1023, "1023.0 B"), (1200, "1.17 KB"), (1024**3, "1.0 GB")],
    )
    def test_readable_size(self, size: int, text: str) -> None:
        assert readable_size(size) == text

    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (0, "∞"),
            (59, "59s"),
            (3661, "1h 1m 1s"),
            (8 * 86400 + 3600, "8d"),
            (40 * 86400, "1m 10d"),
        ],
    )
    def test_time_left(self, seconds: int, text: str) -> None:
        assert format_time_left(seconds) == text

    @pytest.mark.parametrize(
        ("day", "text"),
        [
            (date(2024, 3, 20), "1403-01-01"),
            (date(2025, 3, 21), "1404-01-01"),
            (date(2026, 12, 4), "1405-09-13"),
        ],
    )
    def test_jalali(self, day: date, text: str) -> None:
        assert jalali(day) == text
