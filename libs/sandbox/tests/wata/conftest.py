from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.outage import OutageSwitch
from sandbox.server import serving
from sandbox.wata import (
    AccessToken,
    DeliveryPolicy,
    SigningKey,
    Terminal,
    WataConfig,
    WataEmulator,
    WataSandboxControl,
    WebhookDispatcher,
    create_app,
    wire,
)

TOKEN = "wata-sandbox-token-myvpn"
SECOND_TOKEN = "wata-sandbox-token-myvpn-2"
EXPIRED_TOKEN = "wata-sandbox-token-expired"
OTHER_TOKEN = "wata-sandbox-token-other"
TERMINAL_ID = "3a16a4dd-8c83-4f11-9e2a-5b7c1d2e3f40"
OTHER_TERMINAL_ID = "3a16a4dd-8c83-4f11-9e2a-5b7c1d2e3f41"
FAST_DELIVERY = DeliveryPolicy(first_retry_delay=0.1, max_retry_delay=0.4, horizon=30.0)
# Generating an RSA-2048 pair takes a tenth of a second; emulators made by tests share one.
SHARED_KEY = SigningKey()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float

    def json(self) -> Any:
        return wire.loads(self.body)


@dataclass
class Receiver:
    """A merchant's webhook endpoint that answers the planned statuses, then 200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    planned_statuses: deque[int] = field(default_factory=deque)

    async def endpoint(self, request: Request) -> Response:
        self.received.append(Received(await request.body(), dict(request.headers), time.time()))
        status = self.planned_statuses.popleft() if self.planned_statuses else 200
        return Response(status_code=status)

    def of(self, transaction_id: str) -> list[Received]:
        return [r for r in self.received if r.json().get("transactionId") == transaction_id]

    async def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 5.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while not predicate(self.received):
            if time.monotonic() > deadline:
                raise TimeoutError(f"receiver got only {[r.body for r in self.received]}")
            await asyncio.sleep(0.01)
        return self.received


def terminals(webhook_url: str) -> list[Terminal]:
    return [
        Terminal(
            "MyVpn",
            [
                TOKEN,
                SECOND_TOKEN,
                AccessToken(EXPIRED_TOKEN, datetime(2025, 1, 15, 10, 0, tzinfo=UTC)),
            ],
            public_id=TERMINAL_ID,
            webhook_url=webhook_url,
        ),
        Terminal("Other", [OTHER_TOKEN], public_id=OTHER_TERMINAL_ID, webhook_url=webhook_url),
    ]


def link_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": Decimal("299.00"),
        "currency": "RUB",
        "description": "VPN, 1 месяц",
        "orderId": "1042",
        "successRedirectUrl": "https://t.me/MyVpnBot?start=paid",
        "failRedirectUrl": "https://t.me/MyVpnBot?start=failed",
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def post_json(client: httpx.AsyncClient, path: str, body: object) -> Any:
    """POST as WATA's clients do: a JSON body whose amounts are numbers with two decimals."""
    return client.post(path, content=wire.dumps(body), headers={"Content-Type": "application/json"})


def decoded(response: httpx.Response) -> Any:
    return wire.loads(response.content)


@dataclass
class Sandbox:
    url: str
    emulator: WataEmulator
    dispatcher: WebhookDispatcher
    outage: OutageSwitch
    api: httpx.AsyncClient
    other_api: httpx.AsyncClient
    control: WataSandboxControl
    receiver: Receiver

    async def create_link(self, **fields: Any) -> Any:
        response = await post_json(self.api, "links", link_body(**fields))
        assert response.status_code == 200, response.text
        return decoded(response)

    async def paid_transaction(self, **fields: Any) -> Any:
        link = await self.create_link(**fields)
        return await self.control.pay(link["id"])

    async def refund(self, transaction_id: str, amount: Decimal) -> httpx.Response:
        body = {"originalTransactionId": transaction_id, "amount": amount}
        response: httpx.Response = await post_json(self.api, "transactions/refunds", body)
        return response

    async def public_key(self) -> str:
        response = await self.api.get("public-key")
        return str(response.json()["value"])


@dataclass
class _Servers:
    receiver: Receiver
    emulator: WataEmulator
    dispatcher: WebhookDispatcher
    outage: OutageSwitch
    url: str
    api: httpx.AsyncClient
    other_api: httpx.AsyncClient
    control: WataSandboxControl


# Starting uvicorn and building httpx clients cost tens of milliseconds each, so servers
# and clients live for the whole session and every test starts from a reset emulator.
@pytest.fixture(scope="session")
async def servers() -> AsyncIterator[_Servers]:
    receiver = Receiver()
    receiver_app = Starlette(routes=[Route("/wata", receiver.endpoint, methods=["POST"])])
    emulator = WataEmulator(WataConfig(delivery=FAST_DELIVERY), signing_key=SHARED_KEY)
    app = create_app(emulator)
    # A reused connection costs ~40 ms per request here (delayed ACK), a fresh one does not.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with (
        serving(receiver_app, name="wata-receiver") as receiver_server,
        serving(app, name="wata") as server,
        httpx.AsyncClient(
            base_url=f"{server.url}/api/h2h/",
            headers={"Authorization": f"Bearer {TOKEN}"},
            limits=limits,
            trust_env=False,
        ) as api,
        httpx.AsyncClient(
            base_url=f"{server.url}/api/h2h/",
            headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
            limits=limits,
            trust_env=False,
        ) as other_api,
        WataSandboxControl(
            server.url, transport=httpx.AsyncHTTPTransport(limits=limits)
        ) as control,
    ):
        receiver.url = f"{receiver_server.url}/wata"
        yield _Servers(
            receiver,
            emulator,
            app.state.dispatcher,
            app.state.outage,
            server.url,
            api,
            other_api,
            control,
        )


@pytest.fixture
async def sandbox(servers: _Servers) -> Sandbox:
    await servers.dispatcher.reset()
    servers.outage.end()
    servers.emulator.reset()
    for terminal in terminals(servers.receiver.url):
        servers.emulator.put_terminal(terminal)
    servers.receiver.received.clear()
    servers.receiver.planned_statuses.clear()
    return Sandbox(
        servers.url,
        servers.emulator,
        servers.dispatcher,
        servers.outage,
        servers.api,
        servers.other_api,
        servers.control,
        servers.receiver,
    )


def in_minutes(minutes: float) -> str:
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
