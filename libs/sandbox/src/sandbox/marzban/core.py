"""The Xray core configuration the panel reads its inbounds from.

Marzban resolves ``xray_config.json`` into one settings dict per inbound; only the parts that
show up in the API (tags, ``/api/inbounds``, share links) are kept here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["vmess", "vless", "trojan", "shadowsocks"]
PROTOCOLS: tuple[Protocol, ...] = ("vmess", "vless", "trojan", "shadowsocks")

# The REALITY key pair and short id of the panel the reference samples were taken from.
REFERENCE_REALITY_PUBLIC_KEY = "QR6IV4AQhi-11KQtet1TLdiiHDvhrn5AtAUE-X5HEl8"
REFERENCE_REALITY_SHORT_IDS = ("", "6ba85179e30d4fc2")


@dataclass(frozen=True)
class Inbound:
    """One proxy inbound as the panel resolves it (``xray.config.inbounds_by_tag[tag]``)."""

    tag: str
    protocol: Protocol
    port: int
    network: str = "tcp"
    tls: Literal["none", "tls", "reality"] = "none"
    path: str = ""
    host: tuple[str, ...] = ()
    header_type: str = ""
    sni: tuple[str, ...] = ()
    fingerprint: str = ""
    public_key: str = ""
    short_ids: tuple[str, ...] = ()
    spider_x: str = ""
    multi_mode: bool = False


DEFAULT_INBOUNDS: tuple[Inbound, ...] = (
    Inbound(
        tag="VLESS TCP REALITY",
        protocol="vless",
        port=20443,
        tls="reality",
        sni=("www.example.com",),
        fingerprint="chrome",
        public_key=REFERENCE_REALITY_PUBLIC_KEY,
        short_ids=REFERENCE_REALITY_SHORT_IDS,
    ),
    Inbound(tag="VLESS WS", protocol="vless", port=20080, network="ws", path="/vless"),
    Inbound(tag="VMess TCP", protocol="vmess", port=20081),
    Inbound(tag="VMess Websocket", protocol="vmess", port=20082, network="ws", path="/vmess"),
    Inbound(tag="Trojan Websocket", protocol="trojan", port=20083, network="ws", path="/trojan"),
    Inbound(tag="Shadowsocks TCP", protocol="shadowsocks", port=20084),
)


@dataclass(frozen=True)
class CoreConfig:
    """Inbounds in core order, looked up by tag and grouped by protocol as the panel does."""

    inbounds: tuple[Inbound, ...]
    version: str = "1.8.24"
    _by_tag: dict[str, Inbound] = field(init=False, repr=False, compare=False)
    _by_protocol: dict[str, tuple[Inbound, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_tag: dict[str, Inbound] = {}
        by_protocol: dict[str, list[Inbound]] = {}
        for inbound in self.inbounds:
            if inbound.tag in by_tag:
                raise ValueError(f"duplicate inbound tag {inbound.tag!r}")
            if "," in inbound.tag:
                raise ValueError("character «,» is not allowed in inbound tag")
            by_tag[inbound.tag] = inbound
            by_protocol.setdefault(inbound.protocol, []).append(inbound)
        object.__setattr__(self, "_by_tag", by_tag)
        object.__setattr__(self, "_by_protocol", {k: tuple(v) for k, v in by_protocol.items()})

    @classmethod
    def of(cls, inbounds: Iterable[Inbound], *, version: str = "1.8.24") -> CoreConfig:
        return cls(tuple(inbounds), version=version)

    def get(self, tag: str) -> Inbound | None:
        return self._by_tag.get(tag)

    def has_tag(self, tag: str) -> bool:
        return tag in self._by_tag

    def of_protocol(self, protocol: str) -> Sequence[Inbound]:
        return self._by_protocol.get(protocol, ())

    def tags_of(self, protocol: str) -> list[str]:
        return [inbound.tag for inbound in self.of_protocol(protocol)]

    def protocols(self) -> list[str]:
        """Protocols that have at least one inbound, in the order they first appear."""
        return list(self._by_protocol)

    def position(self, tag: str) -> float:
        for index, inbound in enumerate(self.inbounds):
            if inbound.tag == tag:
                return index
        return float("inf")
