"""A served Telegram emulator per test, a Bot API caller and a control client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.server import SandboxServer, serving
from sandbox.telegram import (
    BotProfile,
    SandboxUser,
    TelegramEmulator,
    TelegramSandboxControl,
    create_app,
)

BOT = BotProfile(token="123456:ABC-DEF", username="shop_bot", first_name="Shop")


class BotApi:
    """Calls the Bot API as a client would, urlencoded like aiogram unless told otherwise."""

    def __init__(self, http: httpx.AsyncClient, token: str = BOT.token) -> None:
        self.http = http
        self.token = token

    async def call(self, method: str, **params: Any) -> httpx.Response:
        return await self.http.post(f"/bot{self.token}/{method}", data=_form(params))

    async def ok(self, method: str, **params: Any) -> Any:
        response = await self.call(method, **params)
        body = response.json()
        assert response.status_code == 200, body
        assert body["ok"] is True, body
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        response = await self.call(method, **params)
        body = response.json()
        assert body["ok"] is False, body
        assert response.status_code == body["error_code"]
        return body["error_code"], body["description"]


def _form(params: dict[str, Any]) -> dict[str, str]:
    form: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, (dict, list)):
            form[name] = json.dumps(value)
        elif isinstance(value, bool):
            form[name] = "true" if value else "false"
        else:
            form[name] = str(value)
    return form


@pytest.fixture(scope="session")
def shared_emulator() -> TelegramEmulator:
    return TelegramEmulator([BOT])


@pytest.fixture(scope="session")
async def server(shared_emulator: TelegramEmulator) -> AsyncIterator[SandboxServer]:
    # One server for the whole run (starting uvicorn costs more than most tests); each test
    # gets the emulator back in its initial state through the ``emulator`` fixture.
    async with serving(create_app(shared_emulator), name="telegram") as running:
        yield running


@pytest.fixture
def emulator(shared_emulator: TelegramEmulator) -> TelegramEmulator:
    shared_emulator.reset()
    return shared_emulator


@pytest.fixture(scope="session")
async def shared_http(server: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
        yield client


@pytest.fixture
def http(shared_http: httpx.AsyncClient, emulator: TelegramEmulator) -> httpx.AsyncClient:
    return shared_http


@pytest.fixture
def api(http: httpx.AsyncClient) -> BotApi:
    return BotApi(http)


@pytest.fixture
def control(
    server: SandboxServer, shared_http: httpx.AsyncClient, emulator: TelegramEmulator
) -> TelegramSandboxControl:
    return TelegramSandboxControl(server.url, BOT.token, client=shared_http)


@pytest.fixture
async def user(control: TelegramSandboxControl) -> SandboxUser:
    """A user who has started the bot (their /start waits in the update queue)."""
    created = await control.create_user("Fala", username="alifala99")
    await control.send_text(created.id, "/start")
    return created
