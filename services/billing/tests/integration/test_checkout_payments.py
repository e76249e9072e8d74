"""Checkout: the consumer records the order, the worker creates the payment and answers.

Real PostgreSQL with billing's migrations (which seed the catalog), the YooKassa sandbox
in this process; a YooKassa that cannot be reached is a port nothing listens on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from billing.checkout import CheckoutPayments, Checkouts
from billing.models import Order, metadata
from billing.orders import order_id_for
from billing.providers import Providers
from billing.providers.yookassa import YooKassa, YooKassaClient
from chassis.db import session_factory, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.messaging.tables import messaging_tables
from chassis.migrations import upgrade_to_head_async
from chassis.worker import RetryPolicy, Wakeup
from contracts.bot import RequestCheckout
from contracts.envelope import Envelope
from devstack._proc import free_port
from devstack.pytest_plugin import DatabaseFactory
from sandbox.server import SandboxServer
from sandbox.yookassa import Shop, YooKassaEmulator, create_app

pytestmark = pytest.mark.integration

tables = messaging_tables(metadata)
SHOP, KEY = "100500", "test_checkout_key"


@dataclass
class Billing:
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    yookassa_url: str
    clients: list[YooKassaClient]

    def providers(self) -> Providers:
        client = YooKassaClient(
            base_url=self.yookassa_url, shop_id=SHOP, secret_key=KEY, timeout_s=2
        )
        self.clients.append(client)
        return Providers([YooKassa(client, return_url="https://t.me/shop_bot")])

    def worker(self, url: str | None = None, *, attempts: int = 3) -> CheckoutPayments:
        client = YooKassaClient(
            base_url=url or self.yookassa_url, shop_id=SHOP, secret_key=KEY, timeout_s=2
        )
        self.clients.append(client)
        return CheckoutPayments(
            Providers([YooKassa(client, return_url="https://t.me/shop_bot")]),
            self.sessions,
            self.outbox,
            attempts=attempts,
            retry=RetryPolicy(first_delay_s=0.01, max_delay_s=0.01),
        )

    async def request(self, checkout_id: uuid.UUID | None = None) -> RequestCheckout:
        request = RequestCheckout(
            checkout_id=checkout_id or uuid.uuid4(),
            customer_id=uuid.uuid4(),
            plan_id="m1",
            provider="yookassa",
            requested_at=datetime.now(UTC),
        )
        envelope = Envelope.for_event(request, source="/vpn/bot")
        async with transaction(self.sessions) as session:
            ctx = MessageContext(session, envelope, self.outbox, "bot.checkouts.v1", 0, 0)
            await Checkouts(self.providers(), self.outbox, Wakeup(), wallet_currency="RUB").plan(
                request, ctx
            )
        return request

    async def answers(self, checkout_id: uuid.UUID) -> list[tuple[str, dict[str, object]]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(tables.outbox.c.event_type, tables.outbox.c.payload).where(
                    tables.outbox.c.key == str(checkout_id)
                )
            )
        return [(event_type, _json(payload)) for event_type, payload in rows]

    async def due_now(self, checkout_id: uuid.UUID) -> None:
        async with transaction(self.sessions) as session:
            await session.execute(
                update(Order)
                .where(Order.checkout_id == checkout_id)
                .values(checkout_due_at=datetime.now(UTC) - timedelta(seconds=1))
            )


def _json(payload: bytes) -> dict[str, object]:
    value = json.loads(bytes(payload))
    assert isinstance(value, dict)
    return value


@pytest_asyncio.fixture(loop_scope="session")
async def billing(database_factory: DatabaseFactory) -> AsyncIterator[Billing]:
    url = await database_factory("billing")
    await upgrade_to_head_async("billing:migrations", url)
    engine = create_async_engine(url)
    emulator = YooKassaEmulator()
    emulator.put_shop(Shop(shop_id=SHOP, secret_key=KEY, notification_url=None))
    async with SandboxServer(create_app(emulator), name="yookassa") as server:
        running = Billing(
            session_factory(engine), Outbox(tables, source="/vpn/billing"), f"{server.url}/v3", []
        )
        yield running
        for client in running.clients:
            await client.aclose()
    await engine.dispose()


async def test_the_consumer_only_records_and_the_worker_answers_with_the_link(
    billing: Billing,
) -> None:
    request = await billing.request()
    assert await billing.answers(request.checkout_id) == []  # nothing called, nothing answered

    assert await billing.worker().step() == 1
    [(event_type, answer)] = await billing.answers(request.checkout_id)
    assert event_type == "billing.checkout.ready.v1"
    client = YooKassaClient(base_url=billing.yookassa_url, shop_id=SHOP, secret_key=KEY)
    payment = await client.get_payment(str(answer["provider_payment_id"]))
    await client.aclose()
    assert payment.metadata["order_id"] == str(order_id_for(request.checkout_id))
    assert payment.metadata["order_id"] == str(answer["order_id"])
    assert payment.metadata["customer_id"] == str(request.customer_id)
    assert str(answer["confirmation_url"]).startswith("https://")
    assert answer["amount"] == {"amount_minor": 19900, "currency": "RUB"}

    # The bot asks again with the same id: the same answer, no second payment.
    await billing.request(request.checkout_id)
    answers = await billing.answers(request.checkout_id)
    assert len(answers) == 2
    assert answers[1][1]["provider_payment_id"] == answer["provider_payment_id"]
    assert await billing.worker().step() == 0


async def test_a_retry_after_a_lost_answer_names_the_same_payment(billing: Billing) -> None:
    request = await billing.request()
    worker = billing.worker()
    assert await worker.step() == 1
    [(_, first)] = await billing.answers(request.checkout_id)

    # As if the worker had died after YooKassa created the payment: the order is due again.
    await billing.due_now(request.checkout_id)
    assert await worker.step() == 1
    answers = await billing.answers(request.checkout_id)
    assert {a["provider_payment_id"] for _, a in answers} == {first["provider_payment_id"]}


async def test_an_unreachable_provider_is_retried_then_the_checkout_fails(
    billing: Billing,
) -> None:
    request = await billing.request()
    unreachable = billing.worker(f"http://127.0.0.1:{free_port()}/v3", attempts=3)
    for attempt in range(1, 4):
        await billing.due_now(request.checkout_id)
        assert await unreachable.step() == 1, f"attempt {attempt}"
        answers = await billing.answers(request.checkout_id)
        assert len(answers) == (1 if attempt == 3 else 0)
    [(event_type, failed)] = await billing.answers(request.checkout_id)
    assert event_type == "billing.checkout.failed.v1"
    assert failed["reason_code"] == "provider_unavailable"
    async with billing.sessions() as session:
        order = await session.scalar(select(Order).where(Order.checkout_id == request.checkout_id))
    assert order is not None
    assert order.status == "failed"
    assert order.checkout_due_at is None
