"""URL checks as TDLib makes them (``HttpUrl.cpp`` ``parse_url``, ``LinkManager::check_link``).

Accepted links come back normalized: lower-case scheme and host, ``/`` for an empty path.
"""

from __future__ import annotations

from dataclasses import dataclass


class LinkError(ValueError):
    """The reason TDLib gives for refusing a URL, e.g. ``Wrong HTTP URL``."""


_HOST_PUNCTUATION = frozenset("-._~")


@dataclass(frozen=True)
class HttpUrl:
    scheme: str
    userinfo: str
    host: str
    port: int | None
    rest: str
    is_ipv6: bool

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 443 if self.scheme == "https" else 80

    def __str__(self) -> str:
        user = f"{self.userinfo}@" if self.userinfo else ""
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{user}{host}{port}{self.rest}"


def parse_http_url(url: str) -> HttpUrl:
    scheme = "http"
    remainder = url
    head_end = _first_of(url, ":/?#@[]")
    if url.startswith("://", head_end):
        scheme = url[:head_end].lower()
        if scheme not in ("http", "https"):
            raise LinkError("Unsupported URL protocol")
        remainder = url[head_end + 3 :]
    authority_end = _first_of(remainder, "/?#")
    authority, rest = remainder[:authority_end], remainder[authority_end:]
    userinfo, _, host_port = authority.rpartition("@")
    host, port, is_ipv6 = _split_host_port(host_port)
    if not host:
        raise LinkError("URL host is empty")
    for char in host:
        if not (char.isalnum() or char in _HOST_PUNCTUATION or ord(char) > 0x7F or is_ipv6):
            raise LinkError("Unallowed characters in URL host")
    if not rest.startswith("/"):
        rest = "/" + rest
    return HttpUrl(scheme, userinfo, host.lower(), port, rest, is_ipv6)


def _first_of(text: str, stops: str) -> int:
    positions = [found for found in (text.find(stop) for stop in stops) if found >= 0]
    return min(positions, default=len(text))


def _split_host_port(host_port: str) -> tuple[str, int | None, bool]:
    if host_port.startswith("["):
        closing = host_port.find("]")
        if closing < 0:
            raise LinkError("Wrong IPv6 address specified in the URL")
        host, after = host_port[1:closing], host_port[closing + 1 :]
        port_text = after[1:] if after.startswith(":") else None
        return host, _port(port_text), True
    host, colon, port_text = host_port.partition(":")
    return host, _port(port_text if colon else None), False


def _port(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise LinkError("Wrong port number specified in the URL")
    return int(text)


def check_link(url: str) -> str:
    """A link a message or a button may carry: http(s) with a dotted host, or tg://."""
    lowered = url.lower()
    for scheme in ("tg", "ton"):
        if lowered.startswith(f"{scheme}:"):
            return _check_app_link(scheme, url[len(scheme) + 1 :])
    parsed = parse_http_url(url)
    if "." not in parsed.host and not parsed.is_ipv6:
        raise LinkError("Wrong HTTP URL")
    return str(parsed)


def _check_app_link(scheme: str, body: str) -> str:
    wrong = LinkError(f"Wrong {scheme} URL")
    body = body.removeprefix("//")
    if body.lower().startswith("http://"):
        raise wrong
    parsed = parse_http_url(body)
    if parsed.scheme == "https" or parsed.userinfo or parsed.port is not None or parsed.is_ipv6:
        raise wrong
    for char in parsed.host:
        if not (char.isascii() and (char.isalnum() or char in "-_")):
            raise LinkError("Unallowed characters in URL host")
    rest = parsed.rest[1:] if parsed.rest.startswith("/?") else parsed.rest
    return f"{scheme}://{parsed.host}{rest}"
