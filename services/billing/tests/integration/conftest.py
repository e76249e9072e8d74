"""The billing service's pieces on a real, migrated PostgreSQL and the YooKassa sandbox
in this process: consumers, workers and the use cases called as the service calls them.

A customer buys through the checkout consumer and worker and pays in the sandbox; the
notification is handed to the verifier as the gateway would. The sandbox shop has no
notification URL: nothing reaches billing unless a test hands it over.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from billing import ledger, refunds
from billing.catalog import PaymentMethods, publish_if_changed
from billing.checkout import CheckoutPayments, Checkouts
from billing.domain import ledger as entries
from billing.models import Order, ProviderNotification, Refund, Subscription, metadata
from billing.notifications import NotificationInbox, NotificationVerifier, Received
from billing.orders import order_id_for
from billing.providers import Providers
from billing.providers.yookassa import YooKassa, YooKassaClient
from billing.refund_worker import RefundPayouts
from chassis.db import session_factory, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.messaging.tables import messaging_tables
from chassis.migrations import upgrade_to_head_async
from chassis.worker import Handoff, RetryPolicy, Wakeup
from contracts.billing import CATALOG_V2_KEY, CatalogPublished
from contracts.bot import RequestCheckout, RequestTopUp, RequestTrafficPack
from contracts.envelope import Envelope, Event
from contracts.gateway import ProviderNotificationReceived
from devstack.pytest_plugin import DatabaseFactory
from sandbox.server import SandboxServer
from sandbox.yookassa import Shop, YooKassaEmulator, YooKassaSandboxControl, create_app

tables = messaging_tables(metadata)
SHOP, KEY = "100500", "test_refund_key"
FISCAL_SHOP = "100600"  # a shop with 54-FZ fiscalization: every payment needs a receipt
VAT_CODE = 11  # 22 %: the standard VAT rate from 2026-01-01
M1_PRICE = 19900  # the seeded plan m1: 199 RUB for 30 days


@dataclass
class Billing:
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    url: str
    control: YooKassaSandboxControl
    clients: list[YooKassaClient] = field(default_factory=list)
    shop_id: str = SHOP
    grace_hours: int = 0
    receipts: bool = False

    def with_grace(self, hours: int) -> Billing:
        """The same billing, selling with a grace of ``hours`` after each end."""
        return replace(self, grace_hours=hours)

    def with_receipts(self) -> Billing:
        """The same billing, selling through the fiscalized shop with receipts on."""
        return replace(self, shop_id=FISCAL_SHOP, receipts=True)

    def client(self, url: str | None = None) -> YooKassaClient:
        client = YooKassaClient(
            base_url=url or self.url, shop_id=self.shop_id, secret_key=KEY, timeout_s=2
        )
        self.clients.append(client)
        return client

    def providers(self, url: str | None = None) -> Providers:
        return Providers([YooKassa(self.client(url), return_url="https://t.me/shop_bot")])

    def worker(self, url: str | None = None, *, attempts: int = 3) -> RefundPayouts:
        return RefundPayouts(
            self.providers(url),
            self.sessions,
            self.outbox,
            receipt_vat_code=VAT_CODE,
            attempts=attempts,
            retry=RetryPolicy(first_delay_s=0.01, max_delay_s=0.01),
        )

    async def consume(self, event: Event, handler: Any) -> MessageContext:
        envelope = Envelope.for_event(event, source="/vpn/bot")
        async with transaction(self.sessions) as session:
            ctx = MessageContext(session, envelope, self.outbox, event.topic.name, 0, 0)
            await handler(event, ctx)
        for callback in ctx.committed_callbacks:
            callback()
        return ctx

    def checkouts(self) -> Checkouts:
        return Checkouts(
            self.providers(),
            self.outbox,
            Wakeup(),
            wallet_currency="RUB",
            receipts=self.receipts,
            grace_hours=self.grace_hours,
        )

    async def buy(
        self,
        *,
        topup: bool = False,
        provider: str = "yookassa",
        customer: uuid.UUID | None = None,
        email: str | None = None,
        plan: str = "m1",
        promo: str | None = None,
        quote: uuid.UUID | None = None,
        traffic: str | None = None,
        region: str | None = None,
        protocol: str | None = None,
        pay: bool = True,
    ) -> Order:
        """A paid order: checkout, the payment created, paid, and YooKassa's notification
        (with ``pay=False``, the order as it waits for its payment)."""
        checkout = uuid.uuid4()
        customer = customer or uuid.uuid4()
        checkouts = self.checkouts()
        request: RequestCheckout | RequestTopUp | RequestTrafficPack
        if traffic is not None:
            request = RequestTrafficPack(
                checkout_id=checkout,
                customer_id=customer,
                pack_id=traffic,
                provider=provider,
                currency="RUB",
                requested_at=datetime.now(UTC),
                receipt_email=email,
            )
            await self.consume(request, checkouts.traffic)
        elif topup:
            request = RequestTopUp(
                checkout_id=checkout,
                customer_id=customer,
                topup_id="t300",
                provider=provider,
                currency="RUB",
                requested_at=datetime.now(UTC),
                receipt_email=email,
            )
            await self.consume(request, checkouts.topup)
        else:
            request = RequestCheckout(
                checkout_id=checkout,
                customer_id=customer,
                plan_id=plan,
                provider=provider,
                requested_at=datetime.now(UTC),
                receipt_email=email,
                promo_code=promo,
                quote_id=quote,
                region=region,
                protocol=protocol,
            )
            await self.consume(request, checkouts.plan)
        if provider == "yookassa":
            payments = CheckoutPayments(
                self.providers(),
                self.sessions,
                self.outbox,
                attempts=1,
                retry=RetryPolicy(0.01, 0.01),
                receipt_vat_code=VAT_CODE,
            )
            assert await payments.step() == 1
            order = await self.order(order_id_for(checkout))
            assert order.provider_payment_id is not None
            if not pay:
                return order
            await self.control.succeed(order.provider_payment_id)
            outcome = await self.notify("payment.succeeded", order.provider_payment_id)
            assert outcome == "paid"
        order = await self.order(order_id_for(checkout))
        assert order.status == "paid", order.failure_reason
        return order

    async def checkout_outcome(
        self,
        customer: uuid.UUID,
        *,
        plan: str = "m1",
        promo: str | None = None,
        quote: uuid.UUID | None = None,
        region: str | None = None,
    ) -> str:
        """A checkout of ``plan`` (naming a code or a quote, in a region): the order's
        status, or the reason it was refused."""
        request = RequestCheckout(
            checkout_id=uuid.uuid4(),
            customer_id=customer,
            plan_id=plan,
            provider="yookassa",
            requested_at=datetime.now(UTC),
            promo_code=promo,
            quote_id=quote,
            region=region,
        )
        await self.consume(request, self.checkouts().plan)
        async with self.sessions() as session:
            order = await session.get(Order, order_id_for(request.checkout_id))
        if order is not None:
            return order.status
        [failed] = await self.events(str(request.checkout_id), "billing.checkout.failed.v1")
        return str(failed["reason_code"])

    async def notify(self, event: str, object_id: str) -> str | None:
        """YooKassa's notification, through the inbox and the verifier; its outcome."""
        body = {"type": "notification", "event": event, "object": {"id": object_id}}
        received = ProviderNotificationReceived(
            provider="yookassa",
            body=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            reference=object_id,
            received_at=datetime.now(UTC),
            remote_address="185.71.76.5",
        )
        handoff: Handoff[Received] = Handoff(Wakeup())
        ctx = await self.consume(received, NotificationInbox(handoff).webhook)
        await self.verifier(handoff).step()
        return await self.outcome(ctx.envelope.id)

    def verifier(self, handoff: Handoff[Received] | None = None) -> NotificationVerifier:
        return NotificationVerifier(
            self.providers(),
            self.sessions,
            self.outbox,
            handoff or Handoff(Wakeup()),
            retry=RetryPolicy(0.01, 0.01),
        )

    async def outcome(self, notification_id: str) -> str | None:
        async with self.sessions() as session:
            outcome: str | None = await session.scalar(
                select(ProviderNotification.outcome).where(
                    ProviderNotification.notification_id == notification_id
                )
            )
            return outcome

    async def refund(
        self, order: Order, amount: str | None = None, *, providers: Providers | None = None
    ) -> refunds.Requested:
        """The operator's command: the use case in one transaction with its events."""
        async with transaction(self.sessions) as session:
            requested = await refunds.request(
                session, providers or self.providers(), order.order_id, amount=amount
            )
            await self.outbox.add_many(session, list(requested.events))
        return requested

    async def publish_catalog(self) -> CatalogPublished:
        """Publish the catalog as the service does (issuing its quotes); the latest one."""
        methods = PaymentMethods.of(self.providers(), wallet_currency="RUB", receipts=False)
        async with transaction(self.sessions) as session:
            await publish_if_changed(session, self.outbox, methods)
        published = await self.events(CATALOG_V2_KEY, CatalogPublished.event_type)
        return CatalogPublished.model_validate(published[-1])

    async def order(self, order_id: uuid.UUID) -> Order:
        async with self.sessions() as session:
            order = await session.get(Order, order_id)
        assert order is not None
        return order

    async def refund_row(self, refund_id: uuid.UUID) -> Refund:
        async with self.sessions() as session:
            refund = await session.get(Refund, refund_id)
        assert refund is not None
        return refund

    async def subscription(self, customer_id: uuid.UUID) -> Subscription:
        async with self.sessions() as session:
            subscription = await session.scalar(
                select(Subscription).where(Subscription.customer_id == customer_id)
            )
        assert subscription is not None
        return subscription

    async def events(self, key: str, event_type: str) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(tables.outbox.c.payload)
                .where(tables.outbox.c.key == key, tables.outbox.c.event_type == event_type)
                .order_by(tables.outbox.c.id)
            )
            return [json.loads(bytes(payload)) for payload in rows]

    async def balance(self, account: entries.Account) -> int:
        async with self.sessions() as session:
            return await ledger.balance_of(session, account)

    async def due_now(self) -> None:
        past = datetime.now(UTC) - timedelta(seconds=1)
        async with transaction(self.sessions) as session:
            await session.execute(
                update(Refund).where(Refund.due_at.is_not(None)).values(due_at=past)
            )
            await session.execute(
                update(ProviderNotification)
                .where(ProviderNotification.status == "received")
                .values(due_at=past, lease_until=None)
            )


@pytest_asyncio.fixture(loop_scope="session")
async def billing(database_factory: DatabaseFactory) -> AsyncIterator[Billing]:
    url = await database_factory("billing")
    await upgrade_to_head_async("billing:migrations", url)
    engine = create_async_engine(url)
    emulator = YooKassaEmulator()
    emulator.put_shop(Shop(shop_id=SHOP, secret_key=KEY, notification_url=None))
    emulator.put_shop(
        Shop(shop_id=FISCAL_SHOP, secret_key=KEY, notification_url=None, fiscalization_enabled=True)
    )
    async with (
        SandboxServer(create_app(emulator), name="yookassa") as server,
        YooKassaSandboxControl(server.url) as control,
    ):
        running = Billing(
            session_factory(engine),
            Outbox(tables, source="/vpn/billing"),
            f"{server.url}/v3",
            control,
        )
        yield running
        for client in running.clients:
            await client.aclose()
    await engine.dispose()
