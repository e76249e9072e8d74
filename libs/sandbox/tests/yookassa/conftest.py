from __future__ import annotations

import asyncio
import time
import uuid
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

from sandbox.outage import OutageSwitch
from sandbox.server import serving
from sandbox.yookassa import (
    DeliveryPolicy,
    NotificationDispatcher,
    Shop,
    YooKassaConfig,
    YooKassaEmulator,
    YooKassaSandboxControl,
    create_app,
)

SHOP_ID = "123456"
SECRET_KEY = "test_SecretKey"
RECEIPT_SHOP_ID = "654321"
RECEIPT_SECRET_KEY = "test_ReceiptKey"
FAST_DELIVERY = DeliveryPolicy(first_retry_delay=0.1, max_retry_delay=0.4, horizon=30.0)


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    """A shop's notification endpoint that answers the planned statuses, then 200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    planned_statuses: deque[int] = field(default_factory=deque)

    async def endpoint(self, request: Request) -> Response:
        self.received.append(Received(await request.json(), dict(request.headers), time.time()))
        status = self.planned_statuses.popleft() if self.planned_statuses else 200
        return Response(status_code=status)

    def events(self, payment_id: str) -> list[str]:
        return [r.body["event"] for r in self.received if r.body["object"]["id"] == payment_id]

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
    emulator: YooKassaEmulator
    api: httpx.AsyncClient
    receipt_api: httpx.AsyncClient
    control: YooKassaSandboxControl
    receiver: Receiver

    async def create_payment(self, body: dict[str, Any] | None = None, **fields: Any) -> Any:
        response = await self.api.post(
            "payments",
            json=body if body is not None else payment_body(**fields),
            headers={"Idempotence-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        api: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """A POST with an Idempotence-Key (a fresh one unless given)."""
        return await (api or self.api).post(
            path, json={} if body is None else body, headers={"Idempotence-Key": key or new_key()}
        )


def new_key() -> str:
    return str(uuid.uuid4())


def payment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": {"value": "299.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": "https://t.me/MyVpnBot?start=paid"},
        "description": "VPN, 1 месяц, заказ 1042",
        "metadata": {"order_id": "1042", "tg_user_id": "123456789", "plan": "m1"},
    }
    body.update(overrides)
    return body


def receipt(value: str = "299.00", **customer: str) -> dict[str, Any]:
    return {
        "customer": customer or {"email": "user@example.com"},
        "items": [
            {
                "description": "Доступ к VPN-сервису, 1 месяц",
                "quantity": "1.00",
                "amount": {"value": value, "currency": "RUB"},
                "vat_code": 1,
                "payment_subject": "service",
                "payment_mode": "full_payment",
            }
        ],
    }


def shops(notification_url: str) -> list[Shop]:
    return [
        Shop(SHOP_ID, SECRET_KEY, notification_url=notification_url),
        Shop(
            RECEIPT_SHOP_ID,
            RECEIPT_SECRET_KEY,
            notification_url=notification_url,
            fiscalization_enabled=True,
        ),
    ]


@dataclass
class _Servers:
    receiver: Receiver
    emulator: YooKassaEmulator
    dispatcher: NotificationDispatcher
    outage: OutageSwitch
    url: str
    api: httpx.AsyncClient
    receipt_api: httpx.AsyncClient
    control: YooKassaSandboxControl


# Starting uvicorn and building an httpx client (its TLS context) cost tens of milliseconds
# each, so servers and clients live for the whole session and every test starts from a
# reset emulator instead.
@pytest.fixture(scope="session")
async def servers() -> AsyncIterator[_Servers]:
    receiver = Receiver()
    receiver_app = Starlette(routes=[Route("/yookassa", receiver.endpoint, methods=["POST"])])
    emulator = YooKassaEmulator(YooKassaConfig(delivery=FAST_DELIVERY))
    app = create_app(emulator)
    # sandbox.server leaves Nagle's algorithm on for accepted connections, which costs a
    # reused connection ~40 ms per request (delayed ACK); fresh connections do not pay it.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with (
        serving(receiver_app, name="receiver") as receiver_server,
        serving(app, name="yookassa") as server,
        httpx.AsyncClient(
            base_url=f"{server.url}/v3/",
            auth=(SHOP_ID, SECRET_KEY),
            limits=limits,
            trust_env=False,
        ) as api,
        httpx.AsyncClient(
            base_url=f"{server.url}/v3/",
            auth=(RECEIPT_SHOP_ID, RECEIPT_SECRET_KEY),
            limits=limits,
            trust_env=False,
        ) as receipt_api,
        YooKassaSandboxControl(
            server.url, transport=httpx.AsyncHTTPTransport(limits=limits)
        ) as control,
    ):
        receiver.url = f"{receiver_server.url}/yookassa"
        yield _Servers(
            receiver,
            emulator,
            app.state.dispatcher,
            app.state.outage,
            server.url,
            api,
            receipt_api,
            control,
        )


@pytest.fixture
async def sandbox(servers: _Servers) -> Sandbox:
    await servers.dispatcher.reset()
    servers.outage.end()
    servers.emulator.reset()
    for shop in shops(servers.receiver.url):
        servers.emulator.put_shop(shop)
    servers.receiver.received.clear()
    servers.receiver.planned_statuses.clear()
    return Sandbox(
        servers.url,
        servers.emulator,
        servers.api,
        servers.receipt_api,
        servers.control,
        servers.receiver,
    )
