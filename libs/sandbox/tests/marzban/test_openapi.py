"""Schema conformance: every endpoint's bodies against the panel's own OpenAPI document.

The ``http``/``api`` clients of every test already check each JSON response they receive;
this file drives one pass over all endpoints and their errors and asserts which schemas were
exercised, and checks that the checker itself is not vacuous.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from sandbox.server import SandboxServer

from .conftest import OPENAPI, TLS, ConformanceLog, ManualClock, login

SAMPLES = Path(__file__).parent / "marzban-0.8.4-webhook-samples.jsonl"
REQUIRED = {
    "Token",
    "Admin",
    "UserResponse",
    "UsersResponse",
    "SubscriptionUserResponse",
    "SystemStats",
    "CoreStats",
    "Response Get Inbounds Api Inbounds Get",
    "Response Get Expired Users Api Users Expired Get",
    "Response Delete Expired Users Api Users Expired Delete",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "HTTPException",
    "HTTPException (undeclared)",
    "HTTPValidationError (as Marzban sends it)",
}


async def test_every_endpoint_matches_its_declared_schema(
    server: SandboxServer, clock: ManualClock
) -> None:
    log = ConformanceLog()
    hooks = {"response": [log.check]}
    async with httpx.AsyncClient(base_url=server.url, event_hooks=hooks, verify=TLS) as anon:
        token = await login(anon, "admin", "admin")
        await anon.post("/api/admin/token", json={})
        await anon.post("/api/admin/token", data={"username": "admin", "password": "x"})
        await anon.get("/api/users")
        async with httpx.AsyncClient(
            base_url=server.url,
            event_hooks=hooks,
            headers={"Authorization": f"Bearer {token}"},
            verify=TLS,
        ) as api:
            await api.post(
                "/api/admin", json={"username": "seller", "password": "pw", "is_sudo": False}
            )
            body = {
                "username": "conform",
                "proxies": {"vless": {}, "vmess": {}, "trojan": {}, "shadowsocks": {}},
                "inbounds": {},
                "data_limit": 10,
                "next_plan": {"data_limit": 100, "expire": 0},
                "note": "n",
            }
            created = (await api.post("/api/user", json=body)).json()
            await api.post("/api/user", json=body)
            await api.post("/api/user", json={**body, "proxies": {"wireguard": {}}})
            await api.get("/api/admin")
            await api.get("/api/user/conform")
            await api.get("/api/user/ghost")
            await api.put(
                "/api/user/conform", json={"expire": int(clock.now) - 5, "data_limit": 10}
            )
            await api.get("/api/users", params={"limit": 10})
            await api.get("/api/users", params={"sort": "nope"})
            await api.get("/api/users/expired")
            await api.get("/api/users/usage")
            await api.get("/api/user/conform/usage")
            await api.post("/api/user/conform/revoke_sub")
            await api.post("/api/user/conform/reset")
            await api.post("/api/user/conform/active-next")
            await api.get("/api/inbounds")
            await api.get("/api/system")
            await api.get("/api/core")
            await anon.get(f"{created['subscription_url']}/info")
            await anon.get("/sub/not-a-real-token-at-all/info")
            seller = {"Authorization": f"Bearer {await login(anon, 'seller', 'pw')}"}
            await anon.get("/api/user/conform", headers=seller)
            await api.put("/api/user/conform", json={"expire": int(clock.now) - 5})
            await api.delete("/api/users/expired")
            await api.delete("/api/users/expired")
            await api.delete("/api/user/conform")

    missing = REQUIRED - set(log.validated)
    assert not missing, missing


def test_the_reference_panel_bodies_pass_the_same_check() -> None:
    log = ConformanceLog()
    for line in SAMPLES.read_text().splitlines():
        for notification in json.loads(line)["body"]:
            if "user" in notification:
                log.validate("GET", "/api/user/x", 200, notification["user"])
            if "by" in notification:
                log.validate("GET", "/api/admin", 200, notification["by"])

    assert set(log.validated) == {"UserResponse", "Admin"}


def test_the_checker_rejects_what_the_document_forbids() -> None:
    log = ConformanceLog()

    with pytest.raises(AssertionError, match="UserResponse"):
        log.validate("GET", "/api/user/x", 200, {"username": "x", "status": "sleeping"})
    with pytest.raises(AssertionError, match="Unauthorized"):
        log.validate("GET", "/api/admin", 401, {"detail": ["not", "a", "string"]})


def test_the_documented_422_shape_is_not_what_marzban_sends() -> None:
    declared = OPENAPI["components"]["schemas"]["HTTPValidationError"]
    marzban_body = {"detail": {"username": "Field required"}}

    errors = list(ConformanceLog().root.evolve(schema=declared).iter_errors(marzban_body))

    assert errors, "the document declares FastAPI's list of errors; Marzban answers a dict"
