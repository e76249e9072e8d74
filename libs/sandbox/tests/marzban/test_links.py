"""Share links, checked against the links a real v0.8.4 panel put in its webhooks."""

from __future__ import annotations

import base64
import json
import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from sandbox.marzban import MarzbanEmulator, responses
from sandbox.marzban.records import Caller

SAMPLES = Path(__file__).parent / "marzban-0.8.4-webhook-samples.jsonl"
SUDO = Caller("admin", True, None)


def sample_users() -> list[dict[str, Any]]:
    users = []
    for line in SAMPLES.read_text().splitlines():
        for notification in json.loads(line)["body"]:
            if "user" in notification:
                users.append(notification["user"])
    return users


def created(panel: MarzbanEmulator, **body: Any) -> list[str]:
    user = panel.create_user(SUDO, panel.parse_user_create(body))
    return panel.links(user)


def any_short_id(link: str) -> str:
    # The panel picks one of the inbound's REALITY short ids ("" or 6ba85179e30d4fc2) per link.
    return re.sub(r"&sid=[0-9a-f]*#", "&sid=*#", link)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_links_equal_the_reference_panel_links(seed: int) -> None:
    """Same user, same credentials: every link must be one the real panel produced."""
    users = sample_users()
    assert users
    short_ids = {re.search(r"&sid=([0-9a-f]*)#", link) for u in users for link in u["links"]}
    assert {m.group(1) for m in short_ids if m} == {"", "6ba85179e30d4fc2"}
    for sample in users:
        panel = MarzbanEmulator(rng=random.Random(seed))
        seen = {
            any_short_id(link)
            for u in users
            if u["username"] == sample["username"]
            for link in u["links"]
        }
        links = created(
            panel,
            username=sample["username"],
            proxies=sample["proxies"],
            inbounds=sample["inbounds"],
        )
        assert len(links) == len(sample["links"])
        assert {any_short_id(link) for link in links} <= seen


def test_response_keys_are_the_reference_order() -> None:
    panel = MarzbanEmulator()
    user = panel.create_user(
        SUDO, panel.parse_user_create({"username": "u_1", "proxies": {"vless": {}}, "inbounds": {}})
    )

    for sample in sample_users():
        assert list(responses.user(panel, user)) == list(sample)


def test_every_protocol_link() -> None:
    panel = MarzbanEmulator(server_ip="203.0.113.7", rng=random.Random(5))
    uuid = "b3587862-7960-45f1-98aa-227f6a99aead"

    links = created(
        panel,
        username="all_four",
        proxies={
            "vless": {"id": uuid, "flow": "xtls-rprx-vision"},
            "vmess": {"id": uuid},
            "trojan": {"password": "EbKXPOIDpg2ui0mCXRItoA", "flow": "xtls-rprx-vision"},
            "shadowsocks": {"password": "KaS9xUDVmjWJhJRL69jeEg"},
        },
        inbounds={},
    )

    reality, vless_ws, vmess_tcp, vmess_ws, trojan, shadowsocks = links
    reality_query = dict(parse_qsl(urlsplit(reality).query, keep_blank_values=True))
    assert reality.startswith(f"vless://{uuid}@203.0.113.7:20443?")
    assert list(reality_query) == [
        "security", "type", "headerType", "flow", "path", "host", "sni", "fp", "pbk", "sid",
    ]  # fmt: skip
    assert reality_query["flow"] == "xtls-rprx-vision"
    assert "flow=" not in vless_ws  # XTLS needs tcp + tls/reality
    assert unquote(urlsplit(vless_ws).fragment) == "🚀 Marz (all_four) [VLESS - ws]"

    payload = json.loads(base64.b64decode(vmess_ws.removeprefix("vmess://")))
    assert payload == {
        "add": "203.0.113.7",
        "aid": "0",
        "host": "",
        "id": uuid,
        "net": "ws",
        "path": "/vmess",
        "port": 20082,
        "ps": "🚀 Marz (all_four) [VMess - ws]",
        "scy": "auto",
        "tls": "none",
        "type": "",
        "v": "2",
    }
    assert json.loads(base64.b64decode(vmess_tcp.removeprefix("vmess://")))["net"] == "tcp"

    assert trojan == (
        "trojan://EbKXPOIDpg2ui0mCXRItoA@203.0.113.7:20083?security=none&type=ws&headerType="
        "&path=%2Ftrojan&host=#%F0%9F%9A%80%20Marz%20%28all_four%29%20%5BTrojan%20-%20ws%5D"
    )
    userinfo = shadowsocks.removeprefix("ss://").split("@")[0]
    assert base64.b64decode(userinfo).decode() == "chacha20-ietf-poly1305:KaS9xUDVmjWJhJRL69jeEg"
    assert shadowsocks.endswith(
        "@203.0.113.7:20084#%F0%9F%9A%80%20Marz%20%28all_four%29%20%5BShadowsocks%20-%20tcp%5D"
    )
