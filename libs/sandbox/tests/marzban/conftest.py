"""A served emulator per test, a clock the test moves, and clients that check every response
against the panel's own OpenAPI document."""

from __future__ import annotations

import json
import random
import re
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.marzban import MarzbanEmulator, MarzbanSandboxControl, create_app
from sandbox.server import SandboxServer, serving

PASSWORD = "admin"
# httpx loads the CA bundle for every client it builds (~0.1 s); the tests build many.
TLS = ssl.create_default_context()
OPENAPI = json.loads((Path(__file__).parent / "marzban-0.8.4-openapi.json").read_text())
# The document declares FastAPI's list-shaped 422 body, but Marzban installs its own handler
# that answers {"detail": {"<field>": "<message>"}}; that is the shape checked.
MARZBAN_422 = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "object", "additionalProperties": {"type": "string"}}},
}
UNDECLARED_ERROR = {"$ref": "#/components/schemas/HTTPException"}


class ConformanceLog:
    """Validates JSON responses against the panel's OpenAPI document and counts the schemas."""

    def __init__(self) -> None:
        self.root = Draft202012Validator(OPENAPI)
        self.routes = sorted(
            ((self._regex(path), path) for path in OPENAPI["paths"]),
            key=lambda route: route[1].count("{"),
        )
        self.validated: Counter[str] = Counter()

    @staticmethod
    def _regex(template: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$")

    def route(self, path: str) -> str | None:
        if re.fullmatch(r"/sub/[^/]+", path):
            return "/sub/{token}/"  # the slashless twin is left out of the schema
        return next((template for regex, template in self.routes if regex.match(path)), None)

    def expected(self, method: str, path: str, status: int) -> tuple[str, dict[str, Any]] | None:
        template = self.route(path)
        operation = OPENAPI["paths"].get(template, {}).get(method.lower()) if template else None
        if status == 422:
            return "HTTPValidationError (as Marzban sends it)", MARZBAN_422
        declared = (operation or {}).get("responses", {}).get(str(status))
        if declared is None:
            return ("HTTPException (undeclared)", UNDECLARED_ERROR) if status >= 400 else None
        schema = declared.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        name = schema.get("$ref", "").rsplit("/", 1)[-1] or schema.get("title", "any")
        return name, schema

    def validate(self, method: str, path: str, status: int, body: Any) -> str | None:
        expected = self.expected(method, path, status)
        if expected is None:
            return None
        name, schema = expected
        errors = [e.message for e in self.root.evolve(schema=schema).iter_errors(body)]
        assert not errors, f"{method} {path} -> {status} does not match {name}: {errors}"
        self.validated[name] += 1
        return name

    async def check(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        if request.url.path.startswith("/sandbox/"):
            return
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        self.validate(request.method, request.url.path, response.status_code, response.json())


class ManualClock:
    """Unix time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = float(int(time.time())) + 0.25

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def conformance() -> ConformanceLog:
    return ConformanceLog()


@pytest.fixture
def emulator_options() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="session")
def shared_panel() -> tuple[MarzbanEmulator, FastAPI]:
    """The default panel, built once: FastAPI takes ~40 ms to assemble its routes."""
    emulator = MarzbanEmulator()
    return emulator, create_app(emulator, review_interval_s=None)


@pytest.fixture
def emulator(
    clock: ManualClock,
    emulator_options: dict[str, Any],
    shared_panel: tuple[MarzbanEmulator, FastAPI],
) -> MarzbanEmulator:
    if emulator_options:
        return MarzbanEmulator(clock=clock, rng=random.Random(84), **emulator_options)
    emulator, _ = shared_panel
    emulator.clear()
    emulator.clock = clock
    emulator.rng = random.Random(84)
    return emulator


class Switchboard:
    """One served entry point whose app each test replaces: uvicorn takes ~0.2 s to stop,
    too long to pay per test. Lifespan stays with the switchboard, so apps under test run
    without their background review job."""

    def __init__(self) -> None:
        self.target: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert self.target is not None, "no emulator app is plugged in"
        await self.target(scope, receive, send)


@pytest.fixture(scope="session")
async def switchboard() -> AsyncIterator[tuple[Switchboard, SandboxServer]]:
    board = Switchboard()
    async with serving(board, name="marzban") as served:
        yield board, served


@pytest.fixture
async def server(
    emulator: MarzbanEmulator,
    switchboard: tuple[Switchboard, SandboxServer],
    shared_panel: tuple[MarzbanEmulator, FastAPI],
) -> AsyncIterator[SandboxServer]:
    board, served = switchboard
    shared_emulator, shared_app = shared_panel
    app = (
        shared_app if emulator is shared_emulator else create_app(emulator, review_interval_s=None)
    )
    board.target = app
    yield served
    board.target = None
    app.state.outage.end()


@pytest.fixture
async def http(
    server: SandboxServer, conformance: ConformanceLog
) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous client; every response it gets is checked against the OpenAPI document."""
    async with httpx.AsyncClient(
        base_url=server.url, event_hooks={"response": [conformance.check]}, timeout=5, verify=TLS
    ) as client:
        yield client


async def login(http: httpx.AsyncClient, username: str, password: str) -> str:
    response = await http.post(
        "/api/admin/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
async def api(
    server: SandboxServer, http: httpx.AsyncClient, conformance: ConformanceLog
) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in as the default sudo admin."""
    token = await login(http, "admin", PASSWORD)
    async with httpx.AsyncClient(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}"},
        event_hooks={"response": [conformance.check]},
        timeout=5,
        verify=TLS,
    ) as client:
        yield client


@pytest.fixture
async def control(server: SandboxServer) -> AsyncIterator[MarzbanSandboxControl]:
    transport = httpx.AsyncHTTPTransport(verify=TLS)
    async with MarzbanSandboxControl(server.url, transport=transport) as client:
        yield client


@pytest.fixture
def new_user() -> Callable[..., dict[str, Any]]:
    def build(username: str = "demo_user1", **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"username": username, "proxies": {"vless": {}}, "inbounds": {}}
        body.update(fields)
        return body

    return build
