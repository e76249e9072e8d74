"""Share links (``app/subscription/{share,v2ray}.py`` ``V2rayShareLink``): one per enabled
host of each allowed inbound, in core inbound order.

``hosted_inbounds`` is ``process_inbounds_and_tags``: it resolves each host against its
inbound (the host's address, port, SNI, Host, path and security win where set) and fills
the template variables; the subscription formats (``formats.py``) render the same list.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sandbox.marzban.core import CoreConfig, Inbound
from sandbox.marzban.hosts import HostRecord
from sandbox.marzban.variables import FormatVariables

PROTOCOL_NAMES = {
    "vmess": "VMess",
    "vless": "VLESS",
    "trojan": "Trojan",
    "shadowsocks": "Shadowsocks",
}


@dataclass(frozen=True)
class HostedInbound:
    """An inbound as one host presents it: the values a link or a proxy entry is built from."""

    remark: str
    address: str
    inbound: Inbound
    port: int
    tls: str
    sni: str
    host: str
    path: str
    fp: str
    alpn: str | None
    ais: bool
    mux_enable: bool
    fragment_setting: str | None
    noise_setting: str | None
    random_user_agent: bool
    sid: str
    settings: Mapping[str, str]

    @property
    def protocol(self) -> str:
        return self.inbound.protocol

    @property
    def network(self) -> str:
        return self.inbound.network


def _pick(options: Sequence[str], rng: random.Random) -> str:
    # A "*" in an address, SNI or Host becomes a fresh random label on every link.
    if not options:
        return ""
    return rng.choice(options).replace("*", secrets.token_hex(8))


def hosted_inbounds(
    *,
    allowed: Mapping[str, Sequence[str]],
    proxies: Mapping[str, Mapping[str, str]],
    core: CoreConfig,
    hosts: Mapping[str, Sequence[HostRecord]],
    variables: FormatVariables,
    rng: random.Random,
) -> list[HostedInbound]:
    """Allowed inbounds × their enabled hosts, in core inbound order."""
    pairs = [(protocol, tag) for protocol, tags in allowed.items() for tag in tags]
    pairs.sort(key=lambda pair: core.position(pair[1]))
    hosted: list[HostedInbound] = []
    for protocol, tag in pairs:
        settings = proxies.get(protocol)
        inbound = core.get(tag)
        if not settings or inbound is None:
            continue
        variables["PROTOCOL"] = PROTOCOL_NAMES[protocol]
        variables["TRANSPORT"] = inbound.network
        for host in hosts.get(tag, ()):
            if host.is_disabled:
                continue
            sni = _pick(host.snis or inbound.sni, rng)
            # The panel keeps the short id it drew last; any of the inbound's ids is one it sends.
            sid = rng.choice(inbound.short_ids) if inbound.short_ids else ""
            req_host = _pick(host.hosts or inbound.host, rng)
            address = _pick(host.addresses, rng)
            path = host.path if host.path else inbound.path
            if host.use_sni_as_host and sni:
                req_host = sni
            hosted.append(
                HostedInbound(
                    remark=host.remark.format_map(variables),
                    address=address.format_map(variables),
                    inbound=inbound,
                    port=host.port or inbound.port,
                    tls=host.tls or inbound.tls,
                    sni=sni,
                    host=req_host,
                    path=path.format_map(variables),
                    fp=host.fingerprint or inbound.fingerprint,
                    alpn=host.alpn or None,
                    ais=bool(host.allowinsecure),
                    mux_enable=host.mux_enable,
                    fragment_setting=host.fragment_setting,
                    noise_setting=host.noise_setting,
                    random_user_agent=host.random_user_agent,
                    sid=sid,
                    settings=settings,
                )
            )
    return hosted


def grpc_gun(path: str) -> str:
    """``funcs.get_grpc_gun``: a path ``/service/stream|multi`` names the gun service."""
    if not path.startswith("/"):
        return path
    service, stream = path.rsplit("/", 1)
    stream = stream.split("|")[0]
    return service[1:] if stream == "Tun" else f"{service}/{stream}"


def grpc_multi(path: str) -> str:
    if not path.startswith("/"):
        return path
    service, stream = path.rsplit("/", 1)
    return f"{service}/{stream.split('|')[1]}"


def _link_path(h: HostedInbound) -> str:
    # A gRPC link names the service, percent-encoded when it came from a "/..." path.
    path = h.path
    if h.network not in ("grpc", "gun"):
        return path
    name = grpc_multi(path) if h.inbound.multi_mode else grpc_gun(path)
    return quote(name, safe="-_.!~*'()") if path.startswith("/") else name


def _tls_params(h: HostedInbound, payload: dict[str, Any]) -> None:
    if h.tls == "tls":
        payload["sni"] = h.sni
        payload["fp"] = h.fp
        if h.alpn:
            payload["alpn"] = h.alpn
        if h.fragment_setting:
            payload["fragment"] = h.fragment_setting
        if h.ais:
            payload["allowInsecure"] = 1
    elif h.tls == "reality":
        payload["sni"] = h.sni
        payload["fp"] = h.fp
        payload["pbk"] = h.inbound.public_key
        payload["sid"] = h.sid
        if h.inbound.spider_x:
            payload["spx"] = h.inbound.spider_x


def _transport_params(h: HostedInbound, *, flow: str) -> dict[str, Any]:
    inbound = h.inbound
    net = inbound.network
    params: dict[str, Any] = {
        "security": h.tls,
        "type": net,
        "headerType": inbound.header_type,
    }
    xtls_capable = h.tls in ("tls", "reality") and net in ("tcp", "raw", "kcp")
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
    _tls_params(h, params)
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
        "port": h.port,
        "ps": h.remark,
        "scy": "auto",
        "tls": h.tls,
        "type": inbound.header_type,
        "v": "2",
    }
    if h.fragment_setting:
        payload["fragment"] = h.fragment_setting
    _tls_params(h, payload)
    if inbound.network == "grpc":
        payload["mode"] = "multi" if inbound.multi_mode else "gun"
    encoded = base64.b64encode(json.dumps(payload, sort_keys=True).encode()).decode()
    return f"vmess://{encoded}"


def share_link(h: HostedInbound) -> str:
    remark = quote(h.remark)
    if h.protocol == "vmess":
        return _vmess(h)
    if h.protocol == "vless":
        params = urlencode(_transport_params(h, flow=h.settings.get("flow", "")))
        return f"vless://{h.settings['id']}@{h.address}:{h.port}?{params}#{remark}"
    if h.protocol == "trojan":
        params = urlencode(_transport_params(h, flow=h.settings.get("flow", "")))
        password = quote(h.settings["password"], safe=":")
        return f"trojan://{password}@{h.address}:{h.port}?{params}#{remark}"
    userinfo = f"{h.settings['method']}:{h.settings['password']}"
    encoded = base64.b64encode(userinfo.encode()).decode()
    return f"ss://{encoded}@{h.address}:{h.port}#{remark}"
