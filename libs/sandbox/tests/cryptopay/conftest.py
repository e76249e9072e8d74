from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.cryptopay import (
    App,
    CryptoPayConfig,
    CryptoPayEmulator,
    CryptoPaySandboxControl,
    DeliveryPolicy,
    WebhookDispatcher,
    create_app,
)
from sandbox.outage import OutageSwitch
from sandbox.server import serving

APP_ID = 12345
TOKEN = "12345:AAzQcZWQqQAbsfgPnOLr4FHC8Doa4L7KryC"
PAYOUT_APP_ID = 67890
PAYOUT_TOKEN = "67890:BBqWeRtYuIoPaSdFgHjKlZxCvBnM1234567"
FAST_DELIVERY = DeliveryPolicy(first_retry_delay=0.05, max_retry_delay=0.2, horizon=30.0)


def cryptopay_verify(raw_body: bytes, header_sig: str, app_token: str) -> bool:
    """Verbatim from shared/reference/payments.md §4.3."""
    secret = hashlib.sha256(app_token.encode()).digest()
    expected = hmac.new(secret, raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, (header_sig or "").strip().lower())


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float

    @property
    def update(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


@dataclass
class Receiver:
    """An app's webhook endpoint that answers the planned statuses, then 200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    planned_statuses: deque[int] = field(default_factory=deque)

    async def endpoint(self, request: Request) -> Response:
        self.received.append(Received(await request.body(), dict(request.headers), time.time()))
        status = self.planned_statuses.popleft() if self.planned_statuses else 200
        return Response(status_code=status)

    async def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 5.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while not predicate(self.received):
            if time.monotonic() > deadline:
                raise TimeoutError(f"receiver got only {[r.body for r in self.received]}")
            await asyncio.sleep(0.01)
        return self.received


@dataclass
class Sandbox:
    url: str
    emulator: CryptoPayEmulator
    api: httpx.AsyncClient
    control: CryptoPaySandboxControl
    receiver: Receiver

    async def call(self, method: str, token: str = TOKEN, **params: Any) -> httpx.Response:
        """``method`` with JSON parameters, as aiosend sends them."""
        return await self.api.post(method, json=params, headers={"Crypto-Pay-API-Token": token})

    async def result(self, method: str, token: str = TOKEN, **params: Any) -> Any:
        response = await self.call(method, token, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ok"] is True, body
        return body["result"]

    async def create_invoice(self, **params: Any) -> dict[str, Any]:
        invoice: dict[str, Any] = await self.result(
            "createInvoice", **({"asset": "USDT", "amount": "5"} | params)
        )
        return invoice


def apps(webhook_url: str) -> list[App]:
    return [
        App(APP_ID, "Stated Seaslug App", TOKEN, webhook_url=webhook_url),
        App(
            PAYOUT_APP_ID,
            "Payouts",
            PAYOUT_TOKEN,
            webhook_url=webhook_url,
            transfer_enabled=True,
        ),
    ]


@dataclass
class _Servers:
    receiver: Receiver
    emulator: CryptoPayEmulator
    dispatcher: WebhookDispatcher
    url: str
    api: httpx.AsyncClient
    control: CryptoPaySandboxControl
    outage: OutageSwitch


# Servers and clients live for the whole session; every test starts from a reset emulator.
@pytest.fixture(scope="session")
async def servers() -> AsyncIterator[_Servers]:
    receiver = Receiver()
    receiver_app = Starlette(routes=[Route("/cryptopay", receiver.endpoint, methods=["POST"])])
    emulator = CryptoPayEmulator(CryptoPayConfig(delivery=FAST_DELIVERY))
    app = create_app(emulator)
    # Fresh connections avoid the ~40 ms delayed-ACK stall of reused ones (see yookassa).
    limits = httpx.Limits(max_keepalive_connections=0)
    async with (
        serving(receiver_app, name="receiver") as receiver_server,
        serving(app, name="cryptopay") as server,
        httpx.AsyncClient(base_url=f"{server.url}/api/", limits=limits, trust_env=False) as api,
        CryptoPaySandboxControl(
            server.url, transport=httpx.AsyncHTTPTransport(limits=limits)
        ) as control,
    ):
        receiver.url = f"{receiver_server.url}/cryptopay"
        yield _Servers(
            receiver, emulator, app.state.dispatcher, server.url, api, control, app.state.outage
        )


@pytest.fixture
async def sandbox(servers: _Servers) -> Sandbox:
    await servers.dispatcher.reset()
    servers.emulator.reset()
    servers.outage.end()
    for configured in apps(servers.receiver.url):
        servers.emulator.put_app(configured)
    servers.receiver.received.clear()
    servers.receiver.planned_statuses.clear()
    return Sandbox(servers.url, servers.emulator, servers.api, servers.control, servers.receiver)
