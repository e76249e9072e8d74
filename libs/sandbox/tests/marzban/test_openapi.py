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
from fastapi import FastAPI

from sandbox.marzban import MarzbanEmulator, MarzbanSandboxControl
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


NEW_SCHEMAS = {
    "NodeSettings",
    "NodeResponse",
    "Response Get Nodes Api Nodes Get",
    "NodesUsageResponse",
    "UserUsagesResponse",
    "Response Get Hosts Api Hosts Get",
    "Response Modify Hosts Api Hosts Put",
    "Admin",
    "Response Get Admins Api Admins Get",
    "Response Get Admin Usage Api Admin Usage  Username  Get",
    "UserTemplateResponse",
    "Response Get User Templates Api User Template Get",
    "any",
    "Forbidden",
    "NotFound",
    "Conflict",
    "HTTPException (undeclared)",
    "HTTPValidationError (as Marzban sends it)",
}
# Routes of the document the emulator leaves out (the core is not configurable here).
NOT_EMULATED = {
    ("POST", "/api/core/restart"),
    ("GET", "/api/core/config"),
    ("PUT", "/api/core/config"),
}


async def test_nodes_hosts_admins_and_templates_match_their_declared_schemas(
    server: SandboxServer, control: MarzbanSandboxControl
) -> None:
    log = ConformanceLog()
    hooks = {"response": [log.check]}
    await control.add_admin("seller", "pw")
    async with httpx.AsyncClient(base_url=server.url, event_hooks=hooks, verify=TLS) as anon:
        headers = {"Authorization": f"Bearer {await login(anon, 'admin', 'admin')}"}
        seller = {"Authorization": f"Bearer {await login(anon, 'seller', 'pw')}"}
        async with httpx.AsyncClient(
            base_url=server.url, event_hooks=hooks, headers=headers, verify=TLS
        ) as api:
            user = {"username": "conform", "proxies": {"vless": {}}, "inbounds": {}}
            await api.post("/api/user", json={**user, "username": "seller_user"}, headers=seller)
            await api.get("/api/node/settings")
            await api.post("/api/node", json={"name": "de-1", "address": "203.0.113.1"})
            await api.post("/api/node", json={"name": "de-1", "address": "203.0.113.1"})
            await api.post("/api/node", json={"name": 5})
            await api.get("/api/nodes")
            await api.get("/api/node/1")
            await api.get("/api/node/9")
            await api.put("/api/node/1", json={"usage_coefficient": 2})
            await api.post("/api/node/1/reconnect")
            await api.get("/api/nodes/usage")
            await api.get("/api/nodes", headers=seller)
            await api.post("/api/user", json=user)
            await control.add_traffic("conform", 10, node_id=1)
            await api.get("/api/user/conform/usage")
            await api.delete("/api/node/1")
            await api.get("/api/hosts")
            await api.put("/api/hosts", json={"VLESS WS": [{"remark": "r", "address": "a"}]})
            await api.put("/api/hosts", json={"NOPE": []})
            await api.get("/api/admins")
            await api.put("/api/admin/seller", json={"is_sudo": False, "telegram_id": 1})
            await api.get("/api/admin/usage/seller")
            await api.post("/api/admin/usage/reset/seller")
            await api.post("/api/admin/seller/users/disable")
            await api.post("/api/admin/seller/users/activate")
            await api.post("/api/admin/ghost/users/activate")
            await api.delete("/api/admin/seller")
            template = {"name": "t", "inbounds": {"vless": ["VLESS WS"]}}
            await api.post("/api/user_template", json=template)
            await api.post("/api/user_template", json=template)
            await api.get("/api/user_template")
            await api.get("/api/user_template/1")
            await api.put("/api/user_template/1", json={"data_limit": 5})
            await api.delete("/api/user_template/1")
            await api.get("/api/user_template/1")

    missing = NEW_SCHEMAS - set(log.validated)
    assert not missing, missing


def test_the_emulator_serves_every_route_of_the_document(
    shared_panel: tuple[MarzbanEmulator, FastAPI],
) -> None:
    _, app = shared_panel
    served = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if not path.startswith("/sandbox/")
        for method in operations
    }
    documented = {
        (method.upper(), path)
        for path, operations in OPENAPI["paths"].items()
        for method in operations
    }

    assert documented - served == NOT_EMULATED
    assert served - documented == set()


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
