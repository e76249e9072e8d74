"""The subscription document a client app asks for, built from share links.

Which format is the client's: apps say who they are in ``User-Agent`` and the panels'
conventions (Marzban's, which PasarGuard keeps) pick the document by it: Clash.Meta /
Mihomo / Clash Verge / FlClash get a Clash.Meta YAML, classic Clash and Stash a Clash
YAML (no VLESS), sing-box clients (SFA/SFI/SFM/SFT, Karing, Hiddify Next) a sing-box
JSON, Outline and other Shadowsocks apps an Outline JSON; everything else (v2rayN,
v2rayNG, Streisand, Happ, Hiddify, browsers) the base64 list of links, which every
v2ray/Xray client imports. ``?format=`` (or ``/sub/{token}/{format}``) overrides it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from gateway.links.share_links import Proxy

Format = Literal["links", "clash-meta", "clash", "sing-box", "outline"]
FORMATS: tuple[Format, ...] = ("links", "clash-meta", "clash", "sing-box", "outline")

_BY_AGENT: tuple[tuple[re.Pattern[str], Format], ...] = (
    (
        re.compile(r"^([Cc]lash-verge|[Cc]lash[-.]?[Mm]eta|[Ff][Ll][Cc]lash|[Mm]ihomo)"),
        "clash-meta",
    ),
    (re.compile(r"^([Cc]lash|[Ss]tash)"), "clash"),
    (re.compile(r"^(SFA|SFI|SFM|SFT|[Kk]aring|[Hh]iddify[Nn]ext)"), "sing-box"),
    (re.compile(r"^(SS|SSR|SSD|SSS|Outline|Shadowsocks|SSconf)"), "outline"),
)


def format_for(user_agent: str, requested: str | None = None) -> Format | None:
    """The document to serve; None for a requested format that does not exist."""
    if requested:
        aliases = {"v2ray": "links", "base64": "links", "mihomo": "clash-meta"}
        name = aliases.get(requested, requested)
        return next((known for known in FORMATS if known == name), None)
    for pattern, found in _BY_AGENT:
        if pattern.match(user_agent):
            return found
    return "links"


@dataclass(frozen=True, slots=True)
class Document:
    body: str
    media_type: str


def render(fmt: Format, links: Sequence[str], proxies: Sequence[Proxy]) -> Document:
    if fmt == "links":
        return Document(base64.b64encode("\n".join(links).encode()).decode(), "text/plain")
    if fmt in ("clash-meta", "clash"):
        return Document(clash(proxies, meta=fmt == "clash-meta"), "text/yaml")
    if fmt == "sing-box":
        return Document(sing_box(proxies), "application/json")
    return Document(outline(proxies), "application/json")


def _unique_names(proxies: Sequence[Proxy]) -> list[str]:
    names: list[str] = []
    for proxy in proxies:
        name, n = proxy.name, 2
        while name in names:
            name, n = f"{proxy.name} ({n})", n + 1
        names.append(name)
    return names


# -- Clash and Clash.Meta (Mihomo) -----------------------------------------------------------

_CLASH_NETWORKS = {"tcp": "tcp", "raw": "tcp", "ws": "ws", "grpc": "grpc", "http": "h2", "h2": "h2"}


def _clash_proxy(proxy: Proxy, name: str, *, meta: bool) -> dict[str, Any] | None:
    network = _CLASH_NETWORKS.get(proxy.network)
    if proxy.network == "httpupgrade":
        network = "ws"
    if network is None or (proxy.protocol == "vless" and not meta):
        return None  # a transport Clash lacks; VLESS is Clash.Meta's only
    if proxy.security == "reality" and not meta:
        return None
    kind = "ss" if proxy.protocol == "shadowsocks" else proxy.protocol
    node: dict[str, Any] = {
        "name": name,
        "type": kind,
        "server": proxy.server,
        "port": proxy.port,
        "network": network,
        "udp": True,
    }
    if kind == "ss":
        node.update(cipher=proxy.method, password=proxy.password)
        return node
    if proxy.security in ("tls", "reality"):
        node["tls"] = True
        if proxy.sni:
            node["sni" if kind == "trojan" else "servername"] = proxy.sni
        if proxy.alpn:
            node["alpn"] = list(proxy.alpn)
        if proxy.allow_insecure:
            node["skip-cert-verify"] = True
    if network == "ws":
        opts: dict[str, Any] = {"path": proxy.path or "/"}
        if proxy.host:
            opts["headers"] = {"Host": proxy.host}
        if proxy.network == "httpupgrade":
            opts["v2ray-http-upgrade"] = True
        node["ws-opts"] = opts
    elif network == "grpc" and proxy.path:
        node["grpc-opts"] = {"grpc-service-name": proxy.path}
    elif network == "h2":
        h2: dict[str, Any] = {"path": proxy.path or "/"}
        if proxy.host:
            h2["host"] = [proxy.host]
        node["h2-opts"] = h2
    if kind == "vmess":
        node.update(uuid=proxy.uuid, alterId=0, cipher="auto")
    elif kind == "vless":
        node["uuid"] = proxy.uuid
        if proxy.flow:
            node["flow"] = proxy.flow
    else:
        node["password"] = proxy.password
    if meta:
        if proxy.fingerprint:
            node["client-fingerprint"] = proxy.fingerprint
        if proxy.security == "reality":
            node["reality-opts"] = {"public-key": proxy.public_key, "short-id": proxy.short_id}
    return node


def clash(proxies: Sequence[Proxy], *, meta: bool) -> str:
    nodes = [
        node
        for proxy, name in zip(proxies, _unique_names(proxies), strict=True)
        if (node := _clash_proxy(proxy, name, meta=meta)) is not None
    ]
    names = [node["name"] for node in nodes]
    document = {
        "mixed-port": 7890,
        "mode": "rule",
        "proxies": nodes,
        "proxy-groups": [
            {"name": "VPN", "type": "select", "proxies": ["Auto", *names]},
            {
                "name": "Auto",
                "type": "url-test",
                "url": "https://www.gstatic.com/generate_204",
                "interval": 300,
                "proxies": names or ["DIRECT"],
            },
        ],
        "rules": ["MATCH,VPN"],
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


# -- sing-box ----------------------------------------------------------------------------------


def _sing_box_outbound(proxy: Proxy, tag: str) -> dict[str, Any] | None:
    outbound: dict[str, Any] = {
        "type": proxy.protocol,
        "tag": tag,
        "server": proxy.server,
        "server_port": proxy.port,
    }
    if proxy.protocol == "shadowsocks":
        outbound.update(method=proxy.method, password=proxy.password)
        return outbound
    network = proxy.network
    if network in ("ws", "grpc", "httpupgrade", "http", "h2"):
        transport: dict[str, Any] = {"type": "http" if network == "h2" else network}
        if network == "grpc":
            transport["service_name"] = proxy.path
        else:
            transport["path"] = proxy.path or "/"
            if proxy.host:
                if network == "ws":
                    transport["headers"] = {"Host": proxy.host}
                elif network == "httpupgrade":
                    transport["host"] = proxy.host
                else:
                    transport["host"] = [proxy.host]
        outbound["transport"] = transport
    elif network not in ("tcp", "raw"):
        return None  # kcp, quic, xhttp: not sing-box's
    if proxy.security in ("tls", "reality"):
        tls: dict[str, Any] = {"enabled": True, "server_name": proxy.sni or proxy.server}
        if proxy.allow_insecure:
            tls["insecure"] = True
        if proxy.alpn:
            tls["alpn"] = list(proxy.alpn)
        if proxy.fingerprint:
            tls["utls"] = {"enabled": True, "fingerprint": proxy.fingerprint}
        if proxy.security == "reality":
            tls["reality"] = {
                "enabled": True,
                "public_key": proxy.public_key,
                "short_id": proxy.short_id,
            }
        outbound["tls"] = tls
    if proxy.protocol in ("vless", "vmess"):
        outbound["uuid"] = proxy.uuid
        if proxy.flow and network in ("tcp", "raw"):
            outbound["flow"] = proxy.flow
        if proxy.protocol == "vmess":
            outbound.update(security="auto", alter_id=0)
    else:
        outbound["password"] = proxy.password
    return outbound


def sing_box(proxies: Sequence[Proxy]) -> str:
    outbounds = [
        outbound
        for proxy, tag in zip(proxies, _unique_names(proxies), strict=True)
        if (outbound := _sing_box_outbound(proxy, tag)) is not None
    ]
    tags = [outbound["tag"] for outbound in outbounds]
    document = {
        "log": {"level": "warn"},
        "inbounds": [
            {"type": "tun", "address": ["172.19.0.1/30"], "auto_route": True, "strict_route": True}
        ],
        "outbounds": [
            {"type": "selector", "tag": "VPN", "outbounds": ["Auto", *tags], "default": "Auto"},
            {
                "type": "urltest",
                "tag": "Auto",
                "outbounds": tags,
                "url": "https://www.gstatic.com/generate_204",
                "interval": "3m",
            },
            *outbounds,
            {"type": "direct", "tag": "direct"},
        ],
        "route": {"final": "VPN", "auto_detect_interface": True},
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def outline(proxies: Sequence[Proxy]) -> str:
    """Outline's dynamic access key: one Shadowsocks server (the first), or nothing."""
    first = next((p for p in proxies if p.protocol == "shadowsocks"), None)
    if first is None:
        return "{}"
    return json.dumps(
        {
            "server": first.server,
            "server_port": first.port,
            "method": first.method,
            "password": first.password,
            "tag": first.name,
        }
    )
