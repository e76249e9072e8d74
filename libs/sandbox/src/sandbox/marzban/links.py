"""Share links and subscription bodies (``app/subscription/{share,v2ray,outline}.py``).

Every inbound has the single default host the panel creates for it: remark
``🚀 Marz ({USERNAME}) [{PROTOCOL} - {TRANSPORT}]`` at ``{SERVER_IP}``. Hosts are not
configurable here, so neither are remarks.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sandbox.marzban.core import CoreConfig, Inbound

DEFAULT_REMARK = "🚀 Marz ({USERNAME}) [{PROTOCOL} - {TRANSPORT}]"
DEFAULT_ADDRESS = "{SERVER_IP}"
PROTOCOL_NAMES = {
    "vmess": "VMess",
    "vless": "VLESS",
    "trojan": "Trojan",
    "shadowsocks": "Shadowsocks",
}


@dataclass(frozen=True)
class HostedInbound:
    """An inbound as one host presents it: the values a share link is built from."""

    remark: str
    address: str
    inbound: Inbound
    sni: str
    host: str
    path: str
    sid: str
    settings: Mapping[str, str]


def _pick(options: Sequence[str], rng: random.Random) -> str:
    if not options:
        return ""
    return rng.choice(options).replace("*", secrets.token_hex(8))


def hosted_inbounds(
    *,
    username: str,
    allowed: Mapping[str, Sequence[str]],
    proxies: Mapping[str, Mapping[str, str]],
    core: CoreConfig,
    server_ip: str,
    rng: random.Random,
) -> list[HostedInbound]:
    """Allowed inbounds × hosts, in core inbound order, as ``process_inbounds_and_tags``."""
    pairs = [(protocol, tag) for protocol, tags in allowed.items() for tag in tags]
    pairs.sort(key=lambda pair: core.position(pair[1]))
    variables: defaultdict[str, str] = defaultdict(
        lambda: "<missing>", {"USERNAME": username, "SERVER_IP": server_ip, "SERVER_IPV6": ""}
    )
    hosted: list[HostedInbound] = []
    for protocol, tag in pairs:
        settings = proxies.get(protocol)
        inbound = core.get(tag)
        if not settings or inbound is None:
            continue
        variables["PROTOCOL"] = PROTOCOL_NAMES[protocol]
        variables["TRANSPORT"] = inbound.network
        hosted.append(
            HostedInbound(
                remark=DEFAULT_REMARK.format_map(variables),
                address=DEFAULT_ADDRESS.replace("*", secrets.token_hex(8)).format_map(variables),
                inbound=inbound,
                sni=_pick(inbound.sni, rng),
                host=_pick(inbound.host, rng),
                path=inbound.path.format_map(variables),
                sid=rng.choice(inbound.short_ids) if inbound.short_ids else "",
                settings=settings,
            )
        )
    return hosted


def _link_path(h: HostedInbound) -> str:
    # get_grpc_gun / get_grpc_multi: a gRPC path "/service/stream|multi" names the service.
    path = h.path
    if h.inbound.network not in ("grpc", "gun") or not path.startswith("/"):
        return path
    service, stream = path.rsplit("/", 1)
    if h.inbound.multi_mode:
        name = f"{service}/{stream.split('|')[1]}"
    else:
        stream = stream.split("|")[0]
        name = service[1:] if stream == "Tun" else f"{service}/{stream}"
    return quote(name, safe="-_.!~*'()")


def _transport_params(h: HostedInbound, *, flow: str) -> dict[str, Any]:
    inbound = h.inbound
    net = inbound.network
    params: dict[str, Any] = {
        "security": inbound.tls,
        "type": net,
        "headerType": inbound.header_type,
    }
    xtls_capable = inbound.tls in ("tls", "reality") and net in ("tcp", "raw", "kcp")
    if flow and xtls_capable and inbound.header_type != "http":
        params["flow"] = flow
    path = _link_path(h)
    if net in ("grpc", "gun"):
        params["serviceName"] = path
        params["authority"] = h.host
        params["mode"] = "multi" if inbound.multi_mode else "gun"
    elif net == "quic":
        params["key"] = path
        params["quicSecurity"] = h.host
    elif net in ("splithttp", "xhttp"):
        params["path"] = path
        params["host"] = h.host
        params["mode"] = "auto"
        params["extra"] = json.dumps(
            {
                "scMaxEachPostBytes": 1000000,
                "scMaxConcurrentPosts": 100,
                "scMinPostsIntervalMs": 30,
                "xPaddingBytes": "100-1000",
                "noGRPCHeader": False,
            }
        )
    elif net == "kcp":
        params["seed"] = path
        params["host"] = h.host
    else:
        params["path"] = path
        params["host"] = h.host
    if inbound.tls == "tls":
        params["sni"] = h.sni
        params["fp"] = inbound.fingerprint
    elif inbound.tls == "reality":
        params["sni"] = h.sni
        params["fp"] = inbound.fingerprint
        params["pbk"] = inbound.public_key
        params["sid"] = h.sid
        if inbound.spider_x:
            params["spx"] = inbound.spider_x
    return params


def _vmess(h: HostedInbound) -> str:
    inbound = h.inbound
    payload: dict[str, Any] = {
        "add": h.address,
        "aid": "0",
        "host": h.host,
        "id": h.settings["id"],
        "net": inbound.network,
        "path": _link_path(h),
        "port": inbound.port,
        "ps": h.remark,
        "scy": "auto",
        "tls": inbound.tls,
        "type": inbound.header_type,
        "v": "2",
    }
    if inbound.tls in ("tls", "reality"):
        payload["sni"] = h.sni
        payload["fp"] = inbound.fingerprint
    if inbound.tls == "reality":
        payload["pbk"] = inbound.public_key
        payload["sid"] = h.sid
        if inbound.spider_x:
            payload["spx"] = inbound.spider_x
    if inbound.network == "grpc":
        payload["mode"] = "multi" if inbound.multi_mode else "gun"
    encoded = base64.b64encode(json.dumps(payload, sort_keys=True).encode()).decode()
    return f"vmess://{encoded}"


def share_link(h: HostedInbound) -> str:
    inbound = h.inbound
    remark = quote(h.remark)
    if inbound.protocol == "vmess":
        return _vmess(h)
    if inbound.protocol == "vless":
        params = urlencode(_transport_params(h, flow=h.settings.get("flow", "")))
        return f"vless://{h.settings['id']}@{h.address}:{inbound.port}?{params}#{remark}"
    if inbound.protocol == "trojan":
        params = urlencode(_transport_params(h, flow=h.settings.get("flow", "")))
        password = quote(h.settings["password"], safe=":")
        return f"trojan://{password}@{h.address}:{inbound.port}?{params}#{remark}"
    userinfo = f"{h.settings['method']}:{h.settings['password']}"
    encoded = base64.b64encode(userinfo.encode()).decode()
    return f"ss://{encoded}@{h.address}:{inbound.port}#{remark}"


def v2ray_subscription(links: Sequence[str]) -> str:
    return base64.b64encode("\n".join(links).encode()).decode()


def outline_subscription(hosted: Sequence[HostedInbound]) -> str:
    # OutlineConfiguration keeps updating one dict, so the last Shadowsocks host wins.
    config: dict[str, Any] = {}
    for h in hosted:
        if h.inbound.protocol == "shadowsocks":
            config.update(
                {
                    "method": h.settings["method"],
                    "password": h.settings["password"],
                    "server": h.address,
                    "server_port": h.inbound.port,
                    "tag": h.remark,
                }
            )
    return json.dumps(config, indent=4)
