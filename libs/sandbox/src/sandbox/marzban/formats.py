"""Subscription documents (``app/subscription/{v2ray,clash,singbox,outline}.py`` and the
default templates under ``app/templates``), built from the same hosted inbounds as the
share links.

Each class mirrors the panel's configuration class of the same role, down to its output
quirks: Clash keys come out alphabetical (the template's ``yaml`` filter sorts them before
the document is re-dumped in template order), JSON documents escape non-ASCII, classic
Clash has no VLESS, and neither Clash nor sing-box carries kcp or (s)xhttp inbounds.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
from collections.abc import Collection, Sequence
from typing import Any, Literal

import yaml

from sandbox.marzban.errors import PanelCrash
from sandbox.marzban.links import HostedInbound, grpc_gun, grpc_multi, share_link

ConfigFormat = Literal["v2ray", "clash-meta", "clash", "sing-box", "outline", "v2ray-json"]

# A few entries of app/templates/user_agent/default.json, for hosts with random_user_agent.
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
)
# app/templates/mux/default.json
MUX = {
    "v2ray": {
        "enabled": True,
        "concurrency": 8,
        "xudpConcurrency": 8,
        "xudpProxyUDP443": "reject",
    },
    "sing-box": {"enabled": False, "protocol": "h2mux", "max_streams": 8},
    "clash": {"enabled": False, "protocol": "h2mux", "max_streams": 8},
}
CLASH_TEMPLATE = """mode: Global
port: 7890

{conf}

proxy-groups:
- name: '♻️ Automatic'
  type: 'url-test'
  url: 'http://www.gstatic.com/generate_204'
  interval: 300
  proxies:
  {remarks}
{groups}"""
# app/templates/clash/settings.yml
CLASH_SETTINGS: dict[str, dict[str, Any]] = {
    "http-opts": {"ip-version": "dual", "method": "GET", "headers": {"Connection": ["keep-alive"]}},
    "grpc-opts": {"ip-version": "dual"},
    "h2-opts": {"ip-version": "dual"},
    "ws-opts": {"ip-version": "dual"},
    "tcp-opts": {"ip-version": "dual"},
}
# app/templates/singbox/default.json
SINGBOX_TEMPLATE: dict[str, Any] = {
    "log": {"level": "warn", "timestamp": True},
    "dns": {
        "servers": [
            {
                "tag": "dns_proxy",
                "address": "1.1.1.1",
                "address_resolver": "dns_direct",
                "strategy": "prefer_ipv4",
                "detour": "Internet",
            },
            {
                "tag": "dns_direct",
                "address": "local",
                "strategy": "prefer_ipv4",
                "detour": "direct",
            },
            {"tag": "dns_block", "address": "rcode://success"},
        ],
        "rules": [
            {"geosite": "private", "server": "dns_direct"},
            {"outbound": "any", "server": "dns_direct"},
        ],
        "fakeip": {},
        "independent_cache": True,
    },
    "inbounds": [
        {
            "type": "tun",
            "mtu": 1400,
            "inet4_address": "172.19.0.1/30",
            "inet6_address": "fdfe:dcba:9876::1/126",
            "auto_route": True,
            "strict_route": True,
            "endpoint_independent_nat": True,
            "stack": "mixed",
            "sniff": True,
        }
    ],
    "outbounds": [
        {"type": "selector", "tag": "Internet", "outbounds": None},
        {
            "type": "urltest",
            "tag": "Best Latency",
            "outbounds": None,
            "url": "https://www.gstatic.com/generate_204",
            "interval": "1m0s",
        },
        {"type": "direct", "tag": "direct"},
        {"type": "block", "tag": "block"},
        {"type": "dns", "tag": "dns-out"},
    ],
    "route": {
        "geoip": {
            "download_url": "https://github.com/soffchen/sing-geoip/releases/latest/download/geoip.db",
            "download_detour": "direct",
        },
        "geosite": {
            "download_url": (
                "https://github.com/soffchen/sing-geosite/releases/latest/download/geosite.db"
            ),
            "download_detour": "direct",
        },
        "rules": [
            {"protocol": "dns", "outbound": "dns-out"},
            {"geoip": "private", "outbound": "direct"},
        ],
        "auto_detect_interface": True,
    },
    "experimental": {},
}
# app/templates/singbox/settings.json
SINGBOX_SETTINGS: dict[str, dict[str, Any]] = {
    "grpcSettings": {"idle_timeout": "15s", "ping_timeout": "15s", "permit_without_stream": False},
    "httpSettings": {"idle_timeout": "15s", "ping_timeout": "15s", "method": "GET", "headers": {}},
    "wsSettings": {"headers": {}},
    "httpupgradeSettings": {"headers": {}},
}
# app/templates/v2ray/default.json
V2RAY_TEMPLATE: dict[str, Any] = {
    "log": {"access": "", "error": "", "loglevel": "warning"},
    "inbounds": [
        {
            "tag": tag,
            "port": port,
            "listen": "0.0.0.0",
            "protocol": tag,
            "sniffing": {"enabled": True, "destOverride": ["http", "tls"], "routeOnly": False},
            "settings": {"auth": "noauth", "udp": True, "allowTransparent": False},
        }
        for tag, port in (("socks", 10808), ("http", 10809))
    ],
    "outbounds": [],
    "dns": {"servers": ["1.1.1.1", "8.8.8.8"]},
    "routing": {"domainStrategy": "AsIs", "rules": []},
}
_NO_CACHE = {"headers": {"Pragma": "no-cache"}}
# app/templates/v2ray/settings.json
V2RAY_SETTINGS: dict[str, dict[str, Any]] = {
    "grpcSettings": {
        "idle_timeout": 60,
        "health_check_timeout": 20,
        "permit_without_stream": False,
        "initial_windows_size": 0,
    },
    "httpSettings": {
        "read_idle_timeout": 10,
        "health_check_timeout": 15,
        "method": "GET",
        "headers": {"Pragma": ["no-cache"]},
    },
    "kcpSettings": {
        "mtu": 1350,
        "tti": 50,
        "uplinkCapacity": 5,
        "downlinkCapacity": 20,
        "congestion": False,
        "readBufferSize": 2,
        "writeBufferSize": 2,
        "header": {},
    },
    "tcpSettings": {"header": {"type": "none"}},
    "tcphttpSettings": {
        "header": {
            "request": {
                "headers": {
                    "Accept-Encoding": ["gzip", "deflate"],
                    "Connection": ["keep-alive"],
                    "Pragma": "no-cache",
                },
                "method": "GET",
                "version": "1.1",
            }
        }
    },
    "wsSettings": _NO_CACHE,
    "h2Settings": _NO_CACHE,
    "h3Settings": _NO_CACHE,
    "httpupgradeSettings": _NO_CACHE,
    "splithttpSettings": _NO_CACHE,
}
PROXY_EMAIL = "https://gozargah.github.io/marzban/"


def _settings(table: dict[str, dict[str, Any]], key: str, default: dict[str, Any]) -> Any:
    """A deep copy of a settings template's entry, ``default`` when it has none."""
    return copy.deepcopy(table.get(key, default))


def _early_data(path: str) -> tuple[str, int | None]:
    """A ws path ``/p?ed=2048`` asks for early data in the Sec-WebSocket-Protocol header."""
    if "?ed=" not in path:
        return path, None
    path, early = path.split("?ed=")
    (early,) = early.split("/")
    return path, int(early)


def _unique(remark: str, taken: Sequence[str]) -> str:
    if remark not in taken:
        return remark
    n = 2
    while f"{remark} ({n})" in taken:
        n += 1
    return f"{remark} ({n})"


# -- v2ray (base64 links) and outline ------------------------------------------------------


def v2ray(hosted: Sequence[HostedInbound]) -> str:
    links = "\n".join(share_link(h) for h in hosted)
    return base64.b64encode(links.encode()).decode()


def outline(hosted: Sequence[HostedInbound]) -> str:
    # OutlineConfiguration keeps updating one dict, so the last Shadowsocks host wins.
    config: dict[str, Any] = {}
    for h in hosted:
        if h.protocol == "shadowsocks":
            config.update(
                {
                    "method": h.settings["method"],
                    "password": h.settings["password"],
                    "server": h.address,
                    "server_port": h.port,
                    "tag": h.remark,
                }
            )
    return json.dumps(config, indent=0)


# -- Clash and Clash.Meta ------------------------------------------------------------------


def _yaml_filter(value: Any) -> str:
    """The templates' ``yaml`` filter: nothing for an empty value, sorted keys otherwise."""
    if not value:
        return ""
    return yaml.dump(value, allow_unicode=True, indent=2)


def _indent(text: str, width: int) -> str:
    """Jinja's ``indent``: every line but the first, blank lines left alone."""
    lines = (text + "\n").splitlines()
    first, rest = lines[0], lines[1:]
    pad = " " * width
    return first + ("\n" + "\n".join(pad + line if line else line for line in rest) if rest else "")


class Clash:
    """``ClashConfiguration`` (``meta=False``) and ``ClashMetaConfiguration``."""

    def __init__(self, *, meta: bool, rng: random.Random) -> None:
        self.meta = meta
        self.rng = rng
        self.proxies: list[dict[str, Any]] = []
        self.remarks: list[str] = []

    def _opts(self, network: str, h: HostedInbound, path: str, httpupgrade: bool) -> dict[str, Any]:
        agent = self.rng.choice(USER_AGENTS) if h.random_user_agent else None
        opts: dict[str, Any]
        if network == "http":
            opts = _settings(CLASH_SETTINGS, "http-opts", {"headers": {}})
            if path:
                opts["path"] = [path]
            if h.host:
                opts["Host"] = h.host
            if agent:
                # Upstream sets headers["User-Agent"] on a "header" key it never made.
                raise PanelCrash("ClashConfiguration.http_config: KeyError 'header'")
        elif network == "ws":
            opts = _settings(CLASH_SETTINGS, "ws-opts", {})
            path, early = _early_data(path)
            if (h.host or agent) and "headers" not in opts:
                opts["headers"] = {}
            if path:
                opts["path"] = path
            if h.host:
                opts["headers"]["Host"] = h.host
            if agent:
                opts["headers"]["User-Agent"] = agent
            if early and not httpupgrade:
                opts["max-early-data"] = early
                opts["early-data-header-name"] = "Sec-WebSocket-Protocol"
            if httpupgrade:
                opts["v2ray-http-upgrade"] = True
                opts["v2ray-http-upgrade-fast-open"] = True
        elif network in ("grpc", "gun"):
            opts = _settings(CLASH_SETTINGS, "grpc-opts", {})
            if path:
                opts["grpc-service-name"] = path
        elif network == "h2":
            opts = _settings(CLASH_SETTINGS, "h2-opts", {})
            if path:
                opts["path"] = path
            if h.host:
                opts["host"] = [h.host]
        elif network in ("tcp", "raw"):
            opts = _settings(CLASH_SETTINGS, "tcp-opts", {})
            if path:
                opts["path"] = [path]
            if h.host:
                opts.setdefault("headers", {})["Host"] = h.host
        else:
            opts = {}
        return opts

    def _node(self, h: HostedInbound, remark: str) -> dict[str, Any]:
        network = h.network
        path = grpc_gun(h.path) if network in ("grpc", "gun") else h.path
        kind = "ss" if h.protocol == "shadowsocks" else h.protocol
        if network in ("http", "h2", "h3"):
            network = "h2"
        if network in ("tcp", "raw") and h.inbound.header_type == "http":
            network = "http"
        httpupgrade = network == "httpupgrade"
        if httpupgrade:
            network = "ws"
        node: dict[str, Any] = {
            "name": remark,
            "type": kind,
            "server": h.address,
            "port": h.port,
            "network": network,
            "udp": True,
        }
        if kind == "ss":
            return node
        if h.tls == "tls" or (self.meta and h.tls == "reality"):
            node["tls"] = True
            node["sni" if kind == "trojan" else "servername"] = h.sni
            if h.alpn:
                node["alpn"] = h.alpn.split(",")
            if h.ais:
                node["skip-cert-verify"] = h.ais
        node[f"{network}-opts"] = self._opts(network, h, path, httpupgrade)
        if h.mux_enable:
            node["smux"] = dict(MUX["clash"])
        if self.meta:
            if h.fp:
                node["client-fingerprint"] = h.fp
            # Keyed on the inbound's public key alone, so a host that turns REALITY off keeps it.
            if h.inbound.public_key:
                node["reality-opts"] = {"public-key": h.inbound.public_key, "short-id": h.sid}
        return node

    def add(self, h: HostedInbound) -> None:
        if h.network in ("kcp", "splithttp", "xhttp"):
            return
        if self.meta and h.network == "quic" and h.inbound.header_type != "none":
            return
        remark = _unique(h.remark, self.remarks)
        node = self._node(h, remark)
        if h.protocol == "vmess":
            node.update(uuid=h.settings["id"], alterId=0, cipher="auto")
        elif h.protocol == "vless" and self.meta:
            node["uuid"] = h.settings["id"]
            xtls_capable = h.network in ("tcp", "raw", "kcp") and h.tls != "none"
            if xtls_capable and h.inbound.header_type != "http":
                node["flow"] = h.settings.get("flow", "")
        elif h.protocol == "trojan":
            node["password"] = h.settings["password"]
        elif h.protocol == "shadowsocks":
            node.update(password=h.settings["password"], cipher=h.settings["method"])
        else:
            return  # VLESS is Clash.Meta's only
        self.proxies.append(node)
        self.remarks.append(remark)

    def render(self) -> str:
        conf = {"proxies": self.proxies, "rules": []}
        document = CLASH_TEMPLATE.format(
            conf=_yaml_filter(conf),
            remarks=_indent(_yaml_filter(self.remarks), 2),
            groups=_yaml_filter([]),
        )
        loaded = yaml.safe_load(document)
        return yaml.dump(loaded, sort_keys=False, allow_unicode=True)


# -- sing-box --------------------------------------------------------------------------------


class SingBox:
    """``SingBoxConfiguration`` on the default template."""

    PROXY_TYPES = ("vmess", "vless", "trojan", "shadowsocks")

    def __init__(self, *, rng: random.Random) -> None:
        self.rng = rng
        self.config = copy.deepcopy(SINGBOX_TEMPLATE)
        self.remarks: list[str] = []

    def _transport(self, net: str, h: HostedInbound, path: str) -> dict[str, Any]:
        agent = self.rng.choice(USER_AGENTS) if h.random_user_agent else None
        path, early = _early_data(path)
        config: dict[str, Any]
        if net == "http":
            config = _settings(SINGBOX_SETTINGS, "httpSettings", {"headers": {}})
            config.setdefault("headers", {})
            config["host"] = [h.host] if h.host else []
            if path:
                config["path"] = path
            if agent:
                config["headers"]["User-Agent"] = agent
        elif net == "ws":
            config = _settings(SINGBOX_SETTINGS, "wsSettings", {"headers": {}})
            config.setdefault("headers", {})
            if path:
                config["path"] = path
            if h.host:
                config["headers"]["Host"] = h.host
            if agent:
                config["headers"]["User-Agent"] = agent
            if early is not None:
                config["max_early_data"] = early
                config["early_data_header_name"] = "Sec-WebSocket-Protocol"
        elif net == "grpc":
            config = _settings(SINGBOX_SETTINGS, "grpcSettings", {})
            if path:
                config["service_name"] = path
        elif net == "httpupgrade":
            config = _settings(SINGBOX_SETTINGS, "httpupgradeSettings", {"headers": {}})
            config.setdefault("headers", {})
            config["host"] = h.host
            if path:
                config["path"] = path
            if agent:
                config["headers"]["User-Agent"] = agent
        else:
            config = {}
        config["type"] = net
        return config

    def _tls(self, h: HostedInbound, alpn: list[str] | None) -> dict[str, Any]:
        config: dict[str, Any] = {"enabled": True, "server_name": h.sni}
        if h.tls == "tls" and h.ais:
            config["insecure"] = h.ais
        if h.tls == "reality":
            config["reality"] = {"enabled": True}
            if h.inbound.public_key:
                config["reality"]["public_key"] = h.inbound.public_key
            if h.sid:
                config["reality"]["short_id"] = h.sid
        if h.fp:
            config["utls"] = {"enabled": True, "fingerprint": h.fp}
        if alpn:
            config["alpn"] = alpn
        return config

    def add(self, h: HostedInbound) -> None:
        net = h.network
        if net in ("kcp", "splithttp", "xhttp") or (
            net == "quic" and h.inbound.header_type != "none"
        ):
            return
        path = grpc_gun(h.path) if net in ("grpc", "gun") else h.path
        alpn = h.alpn.rsplit(",") if h.alpn else None
        remark = _unique(h.remark, self.remarks)
        self.remarks.append(remark)
        outbound: dict[str, Any] = {
            "type": h.protocol,
            "tag": remark,
            "server": h.address,
            "server_port": h.port,
        }
        flow = h.settings.get("flow", "")
        # Upstream tests `tls or tls != 'none'`, true for every inbound.
        if net in ("tcp", "raw", "kcp") and h.inbound.header_type != "http" and flow:
            outbound["flow"] = flow
        if net == "h2":
            net, alpn = "http", ["h2"]
        elif net == "h3":
            net, alpn = "http", ["h3"]
        elif net in ("tcp", "raw") and h.inbound.header_type == "http":
            net = "http"
        if net in ("http", "ws", "quic", "grpc", "httpupgrade"):
            outbound["transport"] = self._transport(net, h, path)
        if h.tls in ("tls", "reality"):
            outbound["tls"] = self._tls(h, alpn)
        multiplex = dict(MUX["sing-box"])
        if multiplex["enabled"]:
            multiplex["enabled"] = h.mux_enable
        outbound["multiplex"] = multiplex
        if h.protocol in ("vmess", "vless"):
            outbound["uuid"] = h.settings["id"]
        elif h.protocol == "trojan":
            outbound["password"] = h.settings["password"]
        else:
            outbound["password"] = h.settings["password"]
            outbound["method"] = h.settings["method"]
        self.config["outbounds"].append(outbound)

    def render(self) -> str:
        outbounds = self.config["outbounds"]
        urltest = [o["tag"] for o in outbounds if o["type"] in self.PROXY_TYPES]
        selector = [o["tag"] for o in outbounds if o["type"] in (*self.PROXY_TYPES, "urltest")]
        for outbound in outbounds:
            if outbound.get("type") == "urltest":
                outbound["outbounds"] = urltest
        for outbound in outbounds:
            if outbound.get("type") == "selector":
                outbound["outbounds"] = selector
        return json.dumps(self.config, indent=4)


# -- v2ray-json --------------------------------------------------------------------------------


class V2rayJson:
    """``V2rayJsonConfig``: one complete Xray client config per host."""

    def __init__(self, *, rng: random.Random) -> None:
        self.rng = rng
        self.configs: list[dict[str, Any]] = []

    def _agent(self, h: HostedInbound) -> str | None:
        return self.rng.choice(USER_AGENTS) if h.random_user_agent else None

    def _network(self, net: str, h: HostedInbound, path: str) -> dict[str, Any]:
        host, headers, agent = h.host, h.inbound.header_type, self._agent(h)
        config: dict[str, Any]
        if net in ("ws", "httpupgrade"):
            config = _settings(V2RAY_SETTINGS, f"{net}Settings", {})
            config.setdefault("headers", {})
            if path:
                config["path"] = path
            if host:
                config["host"] = host
            if agent:
                config["headers"]["User-Agent"] = agent
        elif net == "grpc":
            config = _settings(V2RAY_SETTINGS, "grpcSettings", {})
            config["multiMode"] = h.inbound.multi_mode
            if path:
                config["serviceName"] = path
            if host:
                config["authority"] = host
        elif net in ("h3", "h2", "http"):
            key = {"h2": "h2Settings", "h3": "h3Settings"}.get(net, "httpSettings")
            config = _settings(V2RAY_SETTINGS, key, {"header": {}})
            config.setdefault("header", {})
            config["path"] = path
            config["host"] = [host] if host else []
        elif net == "kcp":
            config = _settings(V2RAY_SETTINGS, "kcpSettings", {"header": {"type": "none"}})
            config.setdefault("header", {"type": "none"})
            if path:
                config["seed"] = path
            if headers:
                config["header"]["type"] = headers
            if host:
                config["header"]["domain"] = host
        elif net in ("tcp", "raw") and h.tls != "reality":
            key = "tcphttpSettings" if headers == "http" else "tcpSettings"
            config = _settings(V2RAY_SETTINGS, key, {"header": {"type": "none"}})
            config.setdefault("header", {})
            if headers:
                config["header"]["type"] = headers
            if path or host or agent:
                config["header"].setdefault("request", {})
            if agent or host:
                config["header"]["request"].setdefault("headers", {})
            if path:
                config["header"]["request"]["path"] = [path]
            if host:
                config["header"]["request"]["headers"]["Host"] = [host]
            if agent:
                config["header"]["request"]["headers"]["User-Agent"] = [agent]
        elif net == "quic":
            config = {"security": "none", "header": {"type": "none"}, "key": ""}
            if path:
                config["key"] = path
            if host:
                config["security"] = host
            if headers:
                config["header"]["type"] = headers
        elif net in ("splithttp", "xhttp"):
            config = _settings(V2RAY_SETTINGS, "splithttpSettings", {})
            config["mode"] = "auto"
            if path:
                config["path"] = path
            if host:
                config["host"] = host
            if agent:
                config["headers"]["User-Agent"] = agent
            config.setdefault("scMaxEachPostBytes", 1000000)
            config.setdefault("scMaxConcurrentPosts", 100)
            config.setdefault("scMinPostsIntervalMs", 30)
            config.setdefault("xPaddingBytes", "100-1000")
            config["noGRPCHeader"] = False
        else:
            config = {}
        return config

    def _security(self, h: HostedInbound, alpn: list[str] | None) -> dict[str, Any] | None:
        if h.tls == "tls":
            tls: dict[str, Any] = {"serverName": h.sni, "allowInsecure": bool(h.ais)}
            if h.fp:
                tls["fingerprint"] = h.fp
            if alpn:
                tls["alpn"] = alpn
            tls["show"] = False
            return tls
        if h.tls == "reality":
            reality: dict[str, Any] = {"serverName": h.sni}
            if h.fp:
                reality["fingerprint"] = h.fp
            reality["show"] = False
            if h.inbound.public_key:
                reality["publicKey"] = h.inbound.public_key
            if h.sid:
                reality["shortId"] = h.sid
            if h.inbound.spider_x:
                reality["spiderX"] = h.inbound.spider_x
            return reality
        return None

    @staticmethod
    def _dialer(fragment: str | None, noise: str | None) -> dict[str, Any] | None:
        settings: dict[str, Any] = {}
        if fragment:
            length, interval, packets = fragment.split(",")
            settings["fragment"] = {"packets": packets, "length": length, "interval": interval}
        if noise:
            noises = []
            for item in noise.split("&"):
                try:
                    kind_packet, delay = item.split(",")
                    kind, packet = kind_packet.split(":")
                except ValueError:
                    continue
                noises.append({"type": kind, "packet": packet, "delay": delay})
            settings["noises"] = noises
        if not settings:
            return None
        return {"tag": "dialer", "protocol": "freedom", "settings": settings}

    def _settings(self, h: HostedInbound) -> dict[str, Any]:
        server: dict[str, Any] = {"address": h.address, "port": h.port}
        if h.protocol == "vmess":
            user = {"id": h.settings["id"], "alterId": 0, "email": PROXY_EMAIL, "security": "auto"}
            return {"vnext": [{**server, "users": [user]}]}
        if h.protocol == "vless":
            xtls_capable = h.network in ("tcp", "raw", "kcp") and h.tls in ("tls", "reality")
            flow = (
                h.settings.get("flow", "")
                if xtls_capable and h.inbound.header_type != "http"
                else None
            )
            user = {
                "id": h.settings["id"],
                "security": "auto",
                "encryption": "none",
                "email": PROXY_EMAIL,
                "alterId": 0,
                "flow": flow,
            }
            return {"vnext": [{**server, "users": [user]}]}
        if h.protocol == "trojan":
            return {
                "servers": [{**server, "password": h.settings["password"], "email": PROXY_EMAIL}]
            }
        return {
            "servers": [
                {
                    **server,
                    "password": h.settings["password"],
                    "email": PROXY_EMAIL,
                    "method": h.settings["method"],
                    "uot": False,
                }
            ]
        }

    def add(self, h: HostedInbound) -> None:
        net = h.network
        path = h.path
        if net in ("grpc", "gun"):
            path = grpc_multi(path) if h.inbound.multi_mode else grpc_gun(path)
        outbound: dict[str, Any] = {
            "tag": "proxy",
            "protocol": h.protocol,
            "settings": self._settings(h),
        }
        outbounds = [outbound]
        dialer = self._dialer(h.fragment_setting, h.noise_setting)
        if dialer:
            outbounds.append(dialer)
        stream: dict[str, Any] = {"network": net}
        security = self._security(h, h.alpn.rsplit(",") if h.alpn else None)
        if h.tls and h.tls != "none":
            stream["security"] = h.tls
            stream[f"{h.tls}Settings"] = security
        network = self._network(net, h, path)
        if net and network:
            stream[f"{net}Settings"] = network
        if dialer:
            stream["sockopt"] = {"dialerProxy": dialer["tag"]}
        outbound["streamSettings"] = stream
        if h.mux_enable:
            outbound["mux"] = dict(MUX["v2ray"])
        config = copy.deepcopy(V2RAY_TEMPLATE)
        config["remarks"] = h.remark
        config["outbounds"] = outbounds + config["outbounds"]
        self.configs.append(config)

    def render(self, *, reverse: bool = False) -> str:
        configs = list(reversed(self.configs)) if reverse else self.configs
        return json.dumps(configs, indent=4)


def document(
    config_format: ConfigFormat,
    *,
    hosted: Sequence[HostedInbound],
    rng: random.Random,
    reverse: bool = False,
) -> str:
    """``generate_subscription`` for one format. Only v2ray-json is ever asked to ``reverse``
    (for v2rayNG 1.8.18 to 1.8.28, which lists configs bottom-up)."""
    if config_format == "v2ray":
        return v2ray(hosted)
    if config_format == "outline":
        return outline(hosted)
    if config_format == "v2ray-json":
        configs = V2rayJson(rng=rng)
        for h in hosted:
            configs.add(h)
        return configs.render(reverse=reverse)
    builder: Clash | SingBox
    if config_format in ("clash", "clash-meta"):
        builder = Clash(meta=config_format == "clash-meta", rng=rng)
    else:
        builder = SingBox(rng=rng)
    for h in hosted:
        builder.add(h)
    return builder.render()


# -- which format a client gets (app/routers/subscription.py) --------------------------------

CLIENT_PATTERNS: tuple[tuple[re.Pattern[str], ConfigFormat], ...] = (
    (
        re.compile(r"^([Cc]lash-verge|[Cc]lash[-\.]?[Mm]eta|[Ff][Ll][Cc]lash|[Mm]ihomo)"),
        "clash-meta",
    ),
    (re.compile(r"^([Cc]lash|[Ss]tash)"), "clash"),
    (re.compile(r"^(SFA|SFI|SFM|SFT|[Kk]aring|[Hh]iddify[Nn]ext)"), "sing-box"),
    (re.compile(r"^(SS|SSR|SSD|SSS|Outline|Shadowsocks|SSconf)"), "outline"),
)
V2RAYN = re.compile(r"^v2rayN/(\d+\.\d+)")
V2RAYNG = re.compile(r"^v2rayNG/(\d+\.\d+\.\d+)")
STREISAND = re.compile(r"^[Ss]treisand")
HAPP = re.compile(r"^Happ/(\d+\.\d+\.\d+)")


def _version(text: str) -> tuple[int, ...]:
    # LooseVersion on dotted numbers: numeric, component by component ("6.5" < "6.40").
    return tuple(int(part) for part in text.split("."))


def choose_format(user_agent: str, custom_json: Collection[str]) -> tuple[ConfigFormat, bool]:
    """The format ``/sub/{token}`` answers a client with, and whether it is reversed.
    ``custom_json`` holds the ``USE_CUSTOM_JSON_*`` switches that are on (lowercase suffix)."""
    for pattern, config_format in CLIENT_PATTERNS:
        if pattern.match(user_agent):
            return config_format, False

    def enabled(client: str) -> bool:
        return "default" in custom_json or client in custom_json

    if enabled("v2rayn") and (match := V2RAYN.match(user_agent)):
        return ("v2ray-json" if _version(match.group(1)) >= (6, 40) else "v2ray"), False
    if enabled("v2rayng") and (match := V2RAYNG.match(user_agent)):
        version = _version(match.group(1))
        if version >= (1, 8, 29):
            return "v2ray-json", False
        if version >= (1, 8, 18):
            return "v2ray-json", True
        return "v2ray", False
    if STREISAND.match(user_agent):
        return ("v2ray-json" if enabled("streisand") else "v2ray"), False
    if enabled("happ") and (match := HAPP.match(user_agent)):
        return ("v2ray-json" if _version(match.group(1)) >= (1, 63, 1) else "v2ray"), False
    return "v2ray", False
