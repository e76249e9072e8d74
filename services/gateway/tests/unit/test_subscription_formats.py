"""The stable link's documents, proven against the panel's own: links made by the Marzban
emulator (which reproduces the panel's share links and documents), read back by the
gateway, give the same proxies the panel's own Clash.Meta and sing-box documents carry."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
import yaml

from gateway.links import formats, share_links
from gateway.links.share_links import UnreadableLink
from sandbox.marzban import Inbound, MarzbanEmulator
from sandbox.marzban import formats as panel_formats
from sandbox.marzban.core import DEFAULT_INBOUNDS
from sandbox.marzban.links import HostedInbound, share_link
from sandbox.marzban.records import Caller

SUDO = Caller("admin", True, None)
UUID = "b3587862-7960-45f1-98aa-227f6a99aead"
ALL_FOUR = {
    "vless": {"id": UUID, "flow": "xtls-rprx-vision"},
    "vmess": {"id": UUID},
    "trojan": {"password": "EbKXPOIDpg2ui0mCXRItoA"},
    "shadowsocks": {"password": "KaS9xUDVmjWJhJRL69jeEg"},
}
MORE_TRANSPORTS = (
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
        tag="Trojan WS TLS",
        protocol="trojan",
        port=2083,
        network="ws",
        tls="tls",
        path="/tr",
        host=("cdn.example.com",),
        sni=("cdn.example.com",),
    ),
)


def hosted(inbounds: tuple[Inbound, ...] = DEFAULT_INBOUNDS) -> list[HostedInbound]:
    panel = MarzbanEmulator(inbounds=inbounds, server_ip="203.0.113.7", rng=random.Random(5))
    proxies = {k: v for k, v in ALL_FOUR.items() if panel.core.of_protocol(k)}
    body = {"username": "all_four", "proxies": proxies, "inbounds": {}}
    user = panel.create_user(SUDO, panel.parse_user_create(body))
    return panel.hosted_inbounds(user)


def ours(fmt: formats.Format, hosted_inbounds: list[HostedInbound]) -> str:
    links = [share_link(h) for h in hosted_inbounds]
    return formats.render(fmt, links, [share_links.read(link) for link in links]).body


def panels(fmt: panel_formats.ConfigFormat, hosted_inbounds: list[HostedInbound]) -> str:
    return panel_formats.document(fmt, hosted=hosted_inbounds, rng=random.Random(1))


CLASH_KEYS = (
    "type",
    "server",
    "port",
    "uuid",
    "password",
    "cipher",
    "network",
    "tls",
    "servername",
    "sni",
    "flow",
    "reality-opts",
    "client-fingerprint",
)


@pytest.mark.parametrize("inbounds", [DEFAULT_INBOUNDS, DEFAULT_INBOUNDS + MORE_TRANSPORTS])
@pytest.mark.parametrize("flavour", ["clash-meta", "clash"])
def test_clash_documents_carry_the_panels_proxies(
    inbounds: tuple[Inbound, ...], flavour: formats.Format
) -> None:
    h = hosted(inbounds)
    mine = {p["name"]: p for p in yaml.safe_load(ours(flavour, h))["proxies"]}
    theirs = {p["name"]: p for p in yaml.safe_load(panels(flavour, h))["proxies"]}  # type: ignore[arg-type]

    assert mine.keys() == theirs.keys()
    for name, proxy in theirs.items():
        for key in CLASH_KEYS:
            assert mine[name].get(key) == proxy.get(key), (name, key)
        if proxy.get("network") == "grpc":
            assert (
                mine[name]["grpc-opts"]["grpc-service-name"]
                == (proxy["grpc-opts"]["grpc-service-name"])
            )
        if proxy.get("network") == "ws":
            assert mine[name]["ws-opts"]["path"] == proxy["ws-opts"]["path"]
            assert mine[name]["ws-opts"].get("headers", {}).get("Host") == proxy["ws-opts"].get(
                "headers", {}
            ).get("Host")


def _essentials(outbound: dict[str, Any]) -> dict[str, Any]:
    tls = outbound.get("tls") or {}
    transport = outbound.get("transport") or {}
    return {
        "type": outbound["type"],
        "server": outbound["server"],
        "server_port": outbound["server_port"],
        "uuid": outbound.get("uuid"),
        "password": outbound.get("password"),
        "method": outbound.get("method"),
        "flow": outbound.get("flow"),
        "server_name": tls.get("server_name"),
        "reality": (tls.get("reality") or {}).get("public_key"),
        "short_id": (tls.get("reality") or {}).get("short_id"),
        "transport": transport.get("type"),
        "path": transport.get("path") or transport.get("service_name"),
    }


@pytest.mark.parametrize("inbounds", [DEFAULT_INBOUNDS, DEFAULT_INBOUNDS + MORE_TRANSPORTS])
def test_the_sing_box_document_carries_the_panels_outbounds(inbounds: tuple[Inbound, ...]) -> None:
    h = hosted(inbounds)
    proxy_types = ("vless", "vmess", "trojan", "shadowsocks")
    mine = {
        o["tag"]: _essentials(o)
        for o in json.loads(ours("sing-box", h))["outbounds"]
        if o["type"] in proxy_types
    }
    theirs = {
        o["tag"]: _essentials(o)
        for o in json.loads(panels("sing-box", h))["outbounds"]
        if o["type"] in proxy_types
    }

    assert mine == theirs


def test_the_links_document_is_the_base64_list_the_panel_serves() -> None:
    h = hosted()
    assert base64.b64decode(ours("links", h)) == base64.b64decode(panels("v2ray", h))


def test_the_clash_meta_document_selects_among_every_proxy() -> None:
    document = yaml.safe_load(ours("clash-meta", hosted()))
    names = [p["name"] for p in document["proxies"]]
    groups = {g["name"]: g for g in document["proxy-groups"]}

    assert groups["VPN"]["proxies"] == ["Auto", *names]
    assert groups["Auto"]["proxies"] == names
    assert document["rules"] == ["MATCH,VPN"]


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("clash-verge/v1.6.0", "clash-meta"),
        ("mihomo/1.18", "clash-meta"),
        ("ClashMetaForAndroid/2.10", "clash-meta"),
        ("FlClash/0.8", "clash-meta"),
        ("ClashForWindows/0.20", "clash"),
        ("Stash/2.4", "clash"),
        ("SFA/1.9.0", "sing-box"),
        ("SFI/1.9.0", "sing-box"),
        ("HiddifyNext/2.0", "sing-box"),
        ("Karing/1.0", "sing-box"),
        ("Outline/1.10", "outline"),
        ("v2rayNG/1.8.19", "links"),
        ("v2rayN/6.40", "links"),
        ("Streisand/1.6", "links"),
        ("Happ/1.2.0", "links"),
        ("Mozilla/5.0", "links"),
        ("", "links"),
    ],
)
def test_the_client_says_which_document_it_reads(agent: str, expected: str) -> None:
    assert formats.format_for(agent) == expected


def test_a_format_asked_for_wins_over_the_agent_and_an_unknown_one_is_refused() -> None:
    assert formats.format_for("v2rayNG/1.8.19", "sing-box") == "sing-box"
    assert formats.format_for("clash-verge/1.0", "base64") == "links"
    assert formats.format_for("", "mihomo") == "clash-meta"
    assert formats.format_for("", "wireguard") is None


def test_the_outline_key_is_the_first_shadowsocks_server() -> None:
    key = json.loads(ours("outline", hosted()))
    assert key["method"] == "chacha20-ietf-poly1305"
    assert key["password"] == ALL_FOUR["shadowsocks"]["password"]
    assert key["server"] == "203.0.113.7"


@pytest.mark.parametrize(
    "link",
    [
        "vmess://not-base64!",
        "vmess://" + base64.b64encode(b'{"ps": "x"}').decode(),
        "vless://@host:443?type=tcp",
        "vless://uuid@host:99999?type=tcp",
        "trojan://password@:443",
        "ss://bWV0aG9k@host:8388",
        "wireguard://key@host:51820",
    ],
)
def test_a_link_that_cannot_be_read_is_refused_not_guessed(link: str) -> None:
    with pytest.raises(UnreadableLink):
        share_links.read(link)


def test_shadowsocks_links_in_each_form_read_alike() -> None:
    userinfo = base64.urlsafe_b64encode(b"aes-256-gcm:secret").decode().rstrip("=")
    legacy = base64.b64encode(b"aes-256-gcm:secret@1.2.3.4:8388").decode()
    forms = [
        f"ss://{userinfo}@1.2.3.4:8388#name",
        "ss://aes-256-gcm:secret@1.2.3.4:8388#name",
        f"ss://{legacy}#name",
    ]
    read = [share_links.read(link) for link in forms]
    assert {(p.method, p.password, p.server, p.port, p.name) for p in read} == {
        ("aes-256-gcm", "secret", "1.2.3.4", 8388, "name")
    }
