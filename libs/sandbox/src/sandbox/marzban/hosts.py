"""Proxy hosts (``/api/hosts``): how each inbound is presented in share links and
subscriptions (``app/models/proxy.py`` ``ProxyHost``, ``app/db/models.py`` ``ProxyHost``).

Every inbound starts with the one default host ``crud.add_default_host`` creates. A host
stores what its body gave, except that ``null`` booleans take the column defaults (the ORM
leaves ``None`` out of the INSERT), which is why a PUT of ``{"remark", "address"}`` answers
``"is_disabled": false`` but ``"allowinsecure": null``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, field_validator

from sandbox.marzban.core import CoreConfig

DEFAULT_REMARK = "🚀 Marz ({USERNAME}) [{PROTOCOL} - {TRANSPORT}]"
DEFAULT_ADDRESS = "{SERVER_IP}"

Security = Literal["inbound_default", "none", "tls"]
Alpn = Literal["", "h3", "h2", "http/1.1", "h3,h2,http/1.1", "h3,h2", "h2,http/1.1"]
Fingerprint = Literal[
    "", "chrome", "firefox", "safari", "ios", "android", "edge", "360", "qq", "random", "randomized"
]

FRAGMENT_PATTERN = re.compile(
    r"^((\d{1,4}-\d{1,4})|(\d{1,4})),((\d{1,3}-\d{1,3})|(\d{1,3})),(tlshello|\d|\d\-\d)$"
)
_NOISE_ITEM = (
    r"(rand:(\d{1,4}-\d{1,4}|\d{1,4})|str:.+|hex:.+|base64:.+)(,(\d{1,4}-\d{1,4}|\d{1,4}))?"
)
NOISE_PATTERN = re.compile(rf"^{_NOISE_ITEM}(&{_NOISE_ITEM})*$")


class _FormatProbe(dict[str, str]):
    """``FormatVariables``: any name is accepted, only the template syntax is checked."""

    def __missing__(self, key: str) -> str:
        return key.join("{}")


class ProxyHost(BaseModel):
    """The body (and response) model of one host."""

    remark: str
    address: str
    port: int | None = None
    sni: str | None = None
    host: str | None = None
    path: str | None = None
    security: Security = "inbound_default"
    alpn: Alpn = ""
    fingerprint: Fingerprint = ""
    allowinsecure: bool | None = None
    is_disabled: bool | None = None
    mux_enable: bool | None = None
    fragment_setting: str | None = None
    noise_setting: str | None = None
    random_user_agent: bool | None = None
    use_sni_as_host: bool | None = None

    @field_validator("remark", "address", mode="after")
    @classmethod
    def validate_variables(cls, value: str) -> str:
        try:
            value.format_map(_FormatProbe())
        except ValueError as exc:
            raise ValueError("Invalid formatting variables") from exc
        return value

    @field_validator("fragment_setting")
    @classmethod
    def validate_fragment(cls, value: str | None) -> str | None:
        if value and not FRAGMENT_PATTERN.match(value):
            raise ValueError(
                "Fragment setting must be like this: length,interval,packet "
                "(10-100,100-200,tlshello)."
            )
        return value

    @field_validator("noise_setting")
    @classmethod
    def validate_noise(cls, value: str | None) -> str | None:
        if value:
            if not NOISE_PATTERN.match(value):
                raise ValueError(
                    "Noise setting must be like this: packet,delay (rand:10-20,100-200)."
                )
            if len(value) > 2000:
                raise ValueError("Noise can't be longer that 2000 character")
        return value


@dataclass
class HostRecord:
    """A ``hosts`` row."""

    remark: str
    address: str
    port: int | None = None
    sni: str | None = None
    host: str | None = None
    path: str | None = None
    security: Security = "inbound_default"
    alpn: Alpn = ""
    fingerprint: Fingerprint = ""
    allowinsecure: bool | None = None
    is_disabled: bool = False
    mux_enable: bool = False
    fragment_setting: str | None = None
    noise_setting: str | None = None
    random_user_agent: bool = False
    use_sni_as_host: bool = False

    @classmethod
    def default(cls) -> HostRecord:
        return cls(remark=DEFAULT_REMARK, address=DEFAULT_ADDRESS)

    @classmethod
    def for_node(cls, name: str, address: str) -> HostRecord:
        """``add_host_if_needed``: what ``add_as_new_host`` adds to every inbound."""
        return cls(remark=f"{name} ({{USERNAME}}) [{{PROTOCOL}} - {{TRANSPORT}}]", address=address)

    @classmethod
    def stored(cls, body: ProxyHost) -> HostRecord:
        """``crud.update_hosts``: every field copied, null booleans become their defaults."""
        return cls(
            remark=body.remark,
            address=body.address,
            port=body.port,
            sni=body.sni,
            host=body.host,
            path=body.path,
            security=body.security,
            alpn=body.alpn,
            fingerprint=body.fingerprint,
            allowinsecure=body.allowinsecure,
            is_disabled=bool(body.is_disabled),
            mux_enable=bool(body.mux_enable),
            fragment_setting=body.fragment_setting,
            noise_setting=body.noise_setting,
            random_user_agent=bool(body.random_user_agent),
            use_sni_as_host=bool(body.use_sni_as_host),
        )

    # -- what ``xray.hosts`` caches for link generation ----------------------------------

    @staticmethod
    def _split(value: str | None) -> list[str]:
        return [item.strip() for item in value.split(",")] if value else []

    @property
    def addresses(self) -> list[str]:
        return self._split(self.address)

    @property
    def snis(self) -> list[str]:
        return self._split(self.sni)

    @property
    def hosts(self) -> list[str]:
        return self._split(self.host)

    @property
    def tls(self) -> str | None:
        """None: the inbound's own security applies."""
        return None if self.security == "inbound_default" else self.security

    def as_dict(self) -> dict[str, Any]:
        return {
            "remark": self.remark,
            "address": self.address,
            "port": self.port,
            "sni": self.sni,
            "host": self.host,
            "path": self.path,
            "security": self.security,
            "alpn": self.alpn,
            "fingerprint": self.fingerprint,
            "allowinsecure": self.allowinsecure,
            "is_disabled": self.is_disabled,
            "mux_enable": self.mux_enable,
            "fragment_setting": self.fragment_setting,
            "noise_setting": self.noise_setting,
            "random_user_agent": self.random_user_agent,
            "use_sni_as_host": self.use_sni_as_host,
        }


HostTable = dict[str, list[HostRecord]]


def default_hosts(core: CoreConfig) -> HostTable:
    return {inbound.tag: [HostRecord.default()] for inbound in core.inbounds}


def render(table: HostTable, tags: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """``{tag: [ProxyHost]}`` for every inbound of the core, in core order."""
    return {tag: [host.as_dict() for host in table.get(tag, [])] for tag in tags}
