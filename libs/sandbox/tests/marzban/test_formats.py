"""§6 Subscription formats: which one a client gets, and what each document carries."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml

from sandbox.marzban import Inbound, MarzbanEmulator, formats
from sandbox.marzban.core import DEFAULT_INBOUNDS, REFERENCE_REALITY_PUBLIC_KEY
from sandbox.marzban.records import Caller

NewUser = Callable[..., dict[str, Any]]
SUDO = Caller("admin", True, None)
UUID = "b3587862-7960-45f1-98aa-227f6a99aead"
ALL_FOUR = {
    "vless": {"id": UUID, "flow": "xtls-rprx-vision"},
    "vmess": {"id": UUID},
    "trojan": {"password": "EbKXPOIDpg2ui0mCXRItoA"},
    "shadowsocks": {"password": "KaS9xUDVmjWJhJRL69jeEg"},
}
REMARKS = [
    "🚀 Marz (all_four) [VLESS - tcp]",
    "🚀 Marz (all_four) [VLESS - ws]",
    "🚀 Marz (all_four) [VMess - tcp]",
    "🚀 Marz (all_four) [VMess - ws]",
    "🚀 Marz (all_four) [Trojan - ws]",
    "🚀 Marz (all_four) [Shadowsocks - tcp]",
]
EXTRA_INBOUNDS = (
    Inbound(
        tag="VLESS GRPC TLS",
        protocol="vless",
        port=2053,
        network="grpc",
        tls="tls",
        path="/svc/Tun",
        sni=("grpc.example.com",),
        fingerprint="chrome",
    ),
    Inbound(
        tag="VMess HU",
        protocol="vmess",
        port=2054,
        network="httpupgrade",
        path="/up?ed=2048",
        host=("up.example.com",),
    ),
    Inbound(tag="Trojan KCP", protocol="trojan", port=2055, network="kcp"),
)


def document(config_format: formats.ConfigFormat, *, inbounds: Any = DEFAULT_INBOUNDS) -> str:
    panel = MarzbanEmulator(inbounds=inbounds, server_ip="203.0.113.7", rng=random.Random(5))
    proxies = {k: v for k, v in ALL_FOUR.items() if panel.core.of_protocol(k)}
    body = {"username": "all_four", "proxies": proxies, "inbounds": {}}
    user = panel.create_user(SUDO, panel.parse_user_create(body))
    return formats.document(config_format, hosted=panel.hosted_inbounds(user), rng=panel.rng)


class TestClash:
    def test_meta_document_structure(self) -> None:
        conf = yaml.safe_load(document("clash-meta"))

        assert list(conf) == ["mode", "port", "proxies", "rules", "proxy-groups"]
        assert (conf["mode"], conf["port"], conf["rules"]) == ("Global", 7890, [])
        assert [p["name"] for p in conf["proxies"]] == REMARKS
        assert conf["proxy-groups"] == [
            {
                "name": "♻️ Automatic",
                "type": "url-test",
                "url": "http://www.gstatic.com/generate_204",
                "interval": 300,
                "proxies": REMARKS,
            }
        ]

    def test_meta_proxies_per_protocol(self) -> None:
        proxies = {p["name"]: p for p in yaml.safe_load(document("clash-meta"))["proxies"]}
        reality, vless_ws, vmess_tcp, vmess_ws, trojan, ss = (proxies[r] for r in REMARKS)

        assert reality == {
            "client-fingerprint": "chrome",
            "flow": "xtls-rprx-vision",
            "name": REMARKS[0],
            "network": "tcp",
            "port": 20443,
            "reality-opts": {
                "public-key": REFERENCE_REALITY_PUBLIC_KEY,
                "short-id": reality["reality-opts"]["short-id"],
            },
            "server": "203.0.113.7",
            "servername": "www.example.com",
            "tcp-opts": {"ip-version": "dual"},
            "tls": True,
            "type": "vless",
            "udp": True,
            "uuid": UUID,
        }
        assert reality["reality-opts"]["short-id"] in ("", "6ba85179e30d4fc2")
        assert "flow" not in vless_ws
        assert vless_ws["ws-opts"] == {"ip-version": "dual", "path": "/vless"}
        assert (vmess_tcp["uuid"], vmess_tcp["alterId"], vmess_tcp["cipher"]) == (UUID, 0, "auto")
        assert vmess_ws["ws-opts"]["path"] == "/vmess"
        assert (trojan["type"], trojan["password"]) == ("trojan", "EbKXPOIDpg2ui0mCXRItoA")
        assert ss == {
            "cipher": "chacha20-ietf-poly1305",
            "name": REMARKS[5],
            "network": "tcp",
            "password": "KaS9xUDVmjWJhJRL69jeEg",
            "port": 20084,
            "server": "203.0.113.7",
            "type": "ss",
            "udp": True,
        }

    def test_keys_come_out_sorted_as_the_template_filter_dumps_them(self) -> None:
        first = yaml.safe_load(document("clash-meta"))["proxies"][0]

        assert list(first) == sorted(first)

    def test_classic_clash_has_no_vless(self) -> None:
        conf = yaml.safe_load(document("clash"))

        assert [p["type"] for p in conf["proxies"]] == ["vmess", "vmess", "trojan", "ss"]
        assert conf["proxy-groups"][0]["proxies"] == REMARKS[2:]

    def test_grpc_tls_httpupgrade_and_no_kcp(self) -> None:
        conf = yaml.safe_load(document("clash-meta", inbounds=EXTRA_INBOUNDS))
        grpc, upgrade = conf["proxies"]

        assert [p["network"] for p in conf["proxies"]] == ["grpc", "ws"]  # kcp is left out
        assert grpc["grpc-opts"] == {"ip-version": "dual", "grpc-service-name": "svc"}
        assert (grpc["tls"], grpc["servername"], grpc["client-fingerprint"]) == (
            True,
            "grpc.example.com",
            "chrome",
        )
        assert upgrade["ws-opts"] == {
            "ip-version": "dual",
            "headers": {"Host": "up.example.com"},
            "path": "/up",
            "v2ray-http-upgrade": True,
            "v2ray-http-upgrade-fast-open": True,
        }

    def test_a_host_without_security_keeps_the_reality_opts(self) -> None:
        panel = MarzbanEmulator(rng=random.Random(1))
        panel.modify_hosts({"VLESS TCP REALITY": [formats_host(security="none")]})
        user = panel.create_user(
            SUDO,
            panel.parse_user_create({"username": "u_1", "proxies": {"vless": {}}, "inbounds": {}}),
        )

        text = formats.document("clash-meta", hosted=panel.hosted_inbounds(user), rng=panel.rng)

        plain = yaml.safe_load(text)["proxies"][0]
        assert "tls" not in plain
        assert plain["reality-opts"]["public-key"] == REFERENCE_REALITY_PUBLIC_KEY

    def test_duplicate_remarks_get_a_number(self) -> None:
        panel = MarzbanEmulator(rng=random.Random(1))
        panel.hosts["VMess TCP"] = panel.hosts["VMess TCP"] * 3
        user = panel.create_user(
            SUDO,
            panel.parse_user_create({"username": "u_1", "proxies": {"vmess": {}}, "inbounds": {}}),
        )

        text = formats.document("clash", hosted=panel.hosted_inbounds(user), rng=panel.rng)

        names = [p["name"] for p in yaml.safe_load(text)["proxies"]]
        base = "🚀 Marz (u_1) [VMess - tcp]"
        assert names == [base, f"{base} (2)", f"{base} (3)", "🚀 Marz (u_1) [VMess - ws]"]


class TestSingBox:
    def test_outbounds_and_groups(self) -> None:
        config = json.loads(document("sing-box"))
        outbounds = {o["tag"]: o for o in config["outbounds"]}

        assert list(config) == ["log", "dns", "inbounds", "outbounds", "route", "experimental"]
        assert [o["tag"] for o in config["outbounds"]] == [
            "Internet",
            "Best Latency",
            "direct",
            "block",
            "dns-out",
            *REMARKS,
        ]
        assert outbounds["Internet"]["outbounds"] == ["Best Latency", *REMARKS]
        assert outbounds["Best Latency"]["outbounds"] == REMARKS
        reality = outbounds[REMARKS[0]]
        assert reality == {
            "type": "vless",
            "tag": REMARKS[0],
            "server": "203.0.113.7",
            "server_port": 20443,
            "flow": "xtls-rprx-vision",
            "tls": {
                "enabled": True,
                "server_name": "www.example.com",
                "reality": {
                    "enabled": True,
                    "public_key": REFERENCE_REALITY_PUBLIC_KEY,
                    **(
                        {"short_id": reality["tls"]["reality"]["short_id"]}
                        if "short_id" in reality["tls"]["reality"]
                        else {}
                    ),
                },
                "utls": {"enabled": True, "fingerprint": "chrome"},
            },
            "multiplex": {"enabled": False, "protocol": "h2mux", "max_streams": 8},
            "uuid": UUID,
        }
        assert outbounds[REMARKS[1]]["transport"] == {"headers": {}, "path": "/vless", "type": "ws"}
        assert outbounds[REMARKS[3]]["uuid"] == UUID
        assert outbounds[REMARKS[4]]["password"] == "EbKXPOIDpg2ui0mCXRItoA"
        ss = outbounds[REMARKS[5]]
        assert (ss["method"], ss["password"]) == (
            "chacha20-ietf-poly1305",
            "KaS9xUDVmjWJhJRL69jeEg",
        )

    def test_json_escapes_non_ascii_like_json_dumps(self) -> None:
        text = document("sing-box")

        assert "🚀" not in text
        assert "\\ud83d\\ude80 Marz (all_four)" in text

    def test_grpc_and_httpupgrade_transports(self) -> None:
        config = json.loads(document("sing-box", inbounds=EXTRA_INBOUNDS))
        proxies = [o for o in config["outbounds"] if o["type"] in ("vless", "vmess", "trojan")]

        grpc, upgrade = proxies  # no kcp
        assert grpc["transport"] == {
            "idle_timeout": "15s",
            "ping_timeout": "15s",
            "permit_without_stream": False,
            "service_name": "svc",
            "type": "grpc",
        }
        assert grpc["tls"]["server_name"] == "grpc.example.com"
        assert upgrade["transport"] == {
            "headers": {},
            "host": "up.example.com",
            "path": "/up",
            "type": "httpupgrade",
        }


class TestOutlineAndV2rayJson:
    def test_outline_is_the_last_shadowsocks_host(self) -> None:
        text = document("outline")

        assert text.startswith('{\n"method"')  # json.dumps(indent=0)
        assert json.loads(text) == {
            "method": "chacha20-ietf-poly1305",
            "password": "KaS9xUDVmjWJhJRL69jeEg",
            "server": "203.0.113.7",
            "server_port": 20084,
            "tag": REMARKS[5],
        }

    def test_outline_without_shadowsocks_is_an_empty_object(self) -> None:
        assert json.loads(document("outline", inbounds=EXTRA_INBOUNDS)) == {}

    def test_v2ray_json_is_one_config_per_host(self) -> None:
        configs = json.loads(document("v2ray-json"))

        assert [c["remarks"] for c in configs] == REMARKS
        reality = configs[0]
        assert list(reality) == ["log", "inbounds", "outbounds", "dns", "routing", "remarks"]
        (proxy,) = reality["outbounds"]
        assert proxy["tag"] == "proxy"
        assert proxy["settings"]["vnext"][0]["users"][0] == {
            "id": UUID,
            "security": "auto",
            "encryption": "none",
            "email": "https://gozargah.github.io/marzban/",
            "alterId": 0,
            "flow": "xtls-rprx-vision",
        }
        stream = proxy["streamSettings"]
        assert (stream["network"], stream["security"]) == ("tcp", "reality")
        assert stream["realitySettings"]["publicKey"] == REFERENCE_REALITY_PUBLIC_KEY
        ws = configs[1]["outbounds"][0]
        assert ws["settings"]["vnext"][0]["users"][0]["flow"] is None
        assert ws["streamSettings"]["wsSettings"] == {
            "headers": {"Pragma": "no-cache"},
            "path": "/vless",
        }
        vmess_tcp = configs[2]["outbounds"][0]["streamSettings"]
        assert vmess_tcp == {"network": "tcp", "tcpSettings": {"header": {"type": "none"}}}
        ss = configs[5]["outbounds"][0]["settings"]["servers"][0]
        assert (ss["method"], ss["uot"]) == ("chacha20-ietf-poly1305", False)

    def test_fragment_adds_a_dialer_outbound(self) -> None:
        panel = MarzbanEmulator(rng=random.Random(2))
        panel.modify_hosts(
            {
                "VLESS WS": [
                    formats_host(
                        fragment_setting="10-20,100-200,tlshello", noise_setting="rand:10-20,5"
                    )
                ]
            }
        )
        user = panel.create_user(
            SUDO,
            panel.parse_user_create({"username": "u_1", "proxies": {"vless": {}}, "inbounds": {}}),
        )

        configs = json.loads(
            formats.document("v2ray-json", hosted=panel.hosted_inbounds(user), rng=panel.rng)
        )

        proxy, dialer = configs[1]["outbounds"]
        assert proxy["streamSettings"]["sockopt"] == {"dialerProxy": "dialer"}
        assert dialer == {
            "tag": "dialer",
            "protocol": "freedom",
            "settings": {
                "fragment": {"packets": "tlshello", "length": "10-20", "interval": "100-200"},
                "noises": [{"type": "rand", "packet": "10-20", "delay": "5"}],
            },
        }


def formats_host(**fields: Any) -> Any:
    from sandbox.marzban.hosts import ProxyHost

    return ProxyHost(remark="h", address="h.example.com", **fields)


class TestUserAgent:
    @pytest.mark.parametrize(
        ("agent", "expected"),
        [
            ("clash-verge/v1.3.8", "clash-meta"),
            ("ClashMeta/1.0", "clash-meta"),
            ("clash.meta", "clash-meta"),
            ("FlClash/0.8", "clash-meta"),
            ("mihomo/1.18", "clash-meta"),
            ("Clash/1.0", "clash"),
            ("Stash/2.4", "clash"),
            ("SFA/1.8", "sing-box"),
            ("SFI/1.8", "sing-box"),
            ("Karing/1.0", "sing-box"),
            ("HiddifyNext/1.0", "sing-box"),
            ("Outline/1.0", "outline"),
            ("SS/1.0", "outline"),
            ("Shadowsocks/5", "outline"),
            ("v2rayNG/1.8.29", "v2ray"),
            ("v2rayN/6.42", "v2ray"),
            ("Streisand/1.0", "v2ray"),
            ("Happ/1.63.1", "v2ray"),
            ("curl/8.0", "v2ray"),
            ("", "v2ray"),
            ("hiddify", "v2ray"),  # anchored and case-exact where upstream is
        ],
    )
    def test_default_switches(self, agent: str, expected: str) -> None:
        assert formats.choose_format(agent, ()) == (expected, False)

    @pytest.mark.parametrize(
        ("agent", "switches", "expected"),
        [
            ("v2rayN/6.40", {"v2rayn"}, ("v2ray-json", False)),
            ("v2rayN/6.5", {"v2rayn"}, ("v2ray", False)),
            ("v2rayNG/1.8.29", {"v2rayng"}, ("v2ray-json", False)),
            ("v2rayNG/1.8.18", {"v2rayng"}, ("v2ray-json", True)),
            ("v2rayNG/1.8.17", {"v2rayng"}, ("v2ray", False)),
            ("v2rayNG/1.9.0", {"v2rayn"}, ("v2ray", False)),
            ("Streisand/1.0", {"streisand"}, ("v2ray-json", False)),
            ("Happ/1.63.1", {"happ"}, ("v2ray-json", False)),
            ("Happ/1.63.0", {"happ"}, ("v2ray", False)),
            ("Happ/2.0.0", {"default"}, ("v2ray-json", False)),
        ],
    )
    def test_custom_json_switches(
        self, agent: str, switches: set[str], expected: tuple[str, bool]
    ) -> None:
        assert formats.choose_format(agent, switches) == expected


async def subscribed(api: httpx.AsyncClient, new_user: NewUser) -> str:
    response = await api.post(
        "/api/user", json=new_user(proxies={"vless": {}, "shadowsocks": {}}, data_limit=100)
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["subscription_url"]
    return url


class TestOverHttp:
    @pytest.mark.parametrize(
        ("agent", "content_type", "parse"),
        [
            ("clash-verge/1.0", "text/yaml; charset=utf-8", yaml.safe_load),
            ("Stash/2.4", "text/yaml; charset=utf-8", yaml.safe_load),
            ("SFA/1.8", "application/json", json.loads),
            ("Outline/1.0", "application/json", json.loads),
            ("v2rayNG/1.8.29", "text/plain; charset=utf-8", base64.b64decode),
        ],
    )
    async def test_format_by_user_agent_keeps_the_headers(
        self,
        api: httpx.AsyncClient,
        http: httpx.AsyncClient,
        new_user: NewUser,
        agent: str,
        content_type: str,
        parse: Callable[[str], Any],
    ) -> None:
        url = await subscribed(api, new_user)

        response = await http.get(url, headers={"User-Agent": agent})

        assert response.status_code == 200
        assert response.headers["content-type"] == content_type
        assert parse(response.text)
        assert response.headers["subscription-userinfo"] == (
            "upload=0; download=0; total=100; expire=0"
        )
        assert response.headers["content-disposition"] == 'attachment; filename="demo_user1"'
        after = (await api.get("/api/user/demo_user1")).json()
        assert after["sub_last_user_agent"] == agent

    @pytest.mark.parametrize(
        ("client_type", "content_type"),
        [
            ("clash", "text/yaml; charset=utf-8"),
            ("clash-meta", "text/yaml; charset=utf-8"),
            ("sing-box", "application/json"),
            ("outline", "application/json"),
            ("v2ray", "text/plain; charset=utf-8"),
            ("v2ray-json", "application/json"),  # served whatever USE_CUSTOM_JSON_* say
        ],
    )
    async def test_client_type_path(
        self,
        api: httpx.AsyncClient,
        http: httpx.AsyncClient,
        new_user: NewUser,
        client_type: str,
        content_type: str,
    ) -> None:
        url = await subscribed(api, new_user)

        response = await http.get(f"{url}/{client_type}", headers={"User-Agent": "Clash/1"})

        assert response.status_code == 200
        assert response.headers["content-type"] == content_type
        assert response.headers["profile-update-interval"] == "12"
        # The client-type route does not record the fetch.
        assert (await api.get("/api/user/demo_user1")).json()["sub_last_user_agent"] is None

    async def test_clash_meta_carries_the_users_proxies(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        url = await subscribed(api, new_user)
        user = (await api.get("/api/user/demo_user1")).json()

        conf = yaml.safe_load((await http.get(f"{url}/clash-meta")).text)

        assert [p["type"] for p in conf["proxies"]] == ["vless", "vless", "ss"]
        assert {p.get("uuid") for p in conf["proxies"][:2]} == {user["proxies"]["vless"]["id"]}
        assert conf["proxies"][2]["password"] == user["proxies"]["shadowsocks"]["password"]

    @pytest.mark.parametrize("emulator_options", [{"custom_json": ["v2rayng"]}])
    async def test_custom_json_for_v2rayng_reverses_old_versions(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, new_user: NewUser
    ) -> None:
        url = await subscribed(api, new_user)

        new = (await http.get(url, headers={"User-Agent": "v2rayNG/1.8.29"})).json()
        old = (await http.get(url, headers={"User-Agent": "v2rayNG/1.8.20"})).json()

        assert [c["remarks"] for c in old] == [c["remarks"] for c in reversed(new)]
        assert len(new) == 3
