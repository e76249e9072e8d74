"""Share links read back into the proxy they describe, for the formats that need fields.

A panel hands out one share link per host of each protocol (the v2ray/Xray conventions:
``vless://`` and ``trojan://`` as URLs with the transport in the query, ``vmess://`` as
base64 JSON, ``ss://`` as SIP002). Clash/Mihomo and sing-box configurations are built
from the same fields, so the links are the one source of truth and no panel's model
leaks into the gateway. A link that cannot be read is skipped, never guessed at.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

Protocol = Literal["vless", "vmess", "trojan", "shadowsocks"]


@dataclass(frozen=True, slots=True)
class Proxy:
    protocol: Protocol
    name: str
    server: str
    port: int
    network: str = "tcp"
    """tcp, ws, grpc, http (h2), httpupgrade, ... as the link says."""
    security: str = "none"
    """none, tls or reality."""
    uuid: str = ""
    password: str = ""
    method: str = ""
    flow: str = ""
    sni: str = ""
    host: str = ""
    path: str = ""
    fingerprint: str = ""
    alpn: tuple[str, ...] = ()
    public_key: str = ""
    short_id: str = ""
    header_type: str = "none"
    allow_insecure: bool = False


class UnreadableLink(ValueError):
    pass


def _b64decode(value: str) -> bytes:
    padded = value + "=" * (-len(value) % 4)
    try:
        return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError) as exc:
        raise UnreadableLink("not base64") from exc


def _port(value: object) -> int:
    try:
        port = int(str(value))
    except ValueError as exc:
        raise UnreadableLink(f"port {value!r}") from exc
    if not 0 < port < 65536:
        raise UnreadableLink(f"port {port}")
    return port


def _alpn(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(",") if part)


def _vmess(body: str) -> Proxy:
    try:
        fields = json.loads(_b64decode(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableLink("vmess body is not base64 JSON") from exc
    if not isinstance(fields, dict) or not fields.get("add") or not fields.get("id"):
        raise UnreadableLink("vmess without address or id")
    text = {key: str(value) for key, value in fields.items() if value is not None}
    return Proxy(
        protocol="vmess",
        name=text.get("ps", "") or text["add"],
        server=text["add"],
        port=_port(text.get("port", "")),
        network=text.get("net", "tcp") or "tcp",
        security=text.get("tls", "") or "none",
        uuid=text["id"],
        sni=text.get("sni", ""),
        host=text.get("host", ""),
        path=text.get("path", ""),
        fingerprint=text.get("fp", ""),
        alpn=_alpn(text.get("alpn", "")),
        header_type=text.get("type", "none") or "none",
        allow_insecure=text.get("allowInsecure", "") in ("1", "true"),
    )


def _url_link(protocol: Protocol, link: str) -> Proxy:
    parts = urlsplit(link)
    if not parts.hostname or not parts.username:
        raise UnreadableLink(f"{protocol} without host or credentials")
    try:
        port = parts.port
    except ValueError as exc:
        raise UnreadableLink(f"{protocol} port: {exc}") from exc
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    network = query.get("type", "tcp") or "tcp"
    secret = unquote(parts.username)
    return Proxy(
        protocol=protocol,
        name=unquote(parts.fragment) or parts.hostname,
        server=parts.hostname,
        port=_port(port),
        network=network,
        security=query.get("security", "none") or "none",
        uuid=secret if protocol == "vless" else "",
        password=secret if protocol == "trojan" else "",
        flow=query.get("flow", ""),
        sni=query.get("sni", ""),
        host=query.get("authority", "") if network == "grpc" else query.get("host", ""),
        path=query.get("serviceName", "") if network == "grpc" else query.get("path", ""),
        fingerprint=query.get("fp", ""),
        alpn=_alpn(query.get("alpn", "")),
        public_key=query.get("pbk", ""),
        short_id=query.get("sid", ""),
        header_type=query.get("headerType", "none") or "none",
        allow_insecure=query.get("allowInsecure", "") in ("1", "true"),
    )


def _shadowsocks(link: str) -> Proxy:
    body, _, fragment = link.removeprefix("ss://").partition("#")
    if "@" not in body:  # the legacy form: all of method:password@host:port in base64
        body = _b64decode(body).decode(errors="replace")
    userinfo, _, address = body.rpartition("@")
    if ":" not in unquote(userinfo):
        userinfo = _b64decode(userinfo).decode(errors="replace")
    method, _, password = unquote(userinfo).partition(":")
    server, _, port = address.split("?")[0].rstrip("/").rpartition(":")
    if not method or not password or not server:
        raise UnreadableLink("shadowsocks without method, password or server")
    return Proxy(
        protocol="shadowsocks",
        name=unquote(fragment) or server,
        server=server.strip("[]"),
        port=_port(port),
        method=method,
        password=password,
    )


def read(link: str) -> Proxy:
    """The proxy a share link describes; raises ``UnreadableLink``."""
    scheme, _, body = link.partition("://")
    if scheme == "vmess":
        return _vmess(body)
    if scheme in ("vless", "trojan"):
        return _url_link("vless" if scheme == "vless" else "trojan", link)
    if scheme == "ss":
        return _shadowsocks(link)
    raise UnreadableLink(f"unknown scheme {scheme!r}")
