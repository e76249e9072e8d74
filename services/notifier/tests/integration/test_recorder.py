"""What the notifier's consumer records, in a real, migrated database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from chassis.db import session_factory, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.migrations import upgrade_to_head_async
from chassis.worker import Wakeup
from contracts.billing import PaymentCanceled
from contracts.envelope import Envelope
from contracts.money import Money
from contracts.provisioning import TrafficThresholdReached
from devstack.pytest_plugin import DatabaseFactory
from notifier.deliveries import Recorder
from notifier.models import Delivery, messaging

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def sessions(
    database_factory: DatabaseFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await database_factory("notifier")
    await upgrade_to_head_async("notifier:migrations", url)
    engine = create_async_engine(url)
    yield session_factory(engine)
    await engine.dispose()


async def canceled(
    sessions: async_sessionmaker[AsyncSession], *, autopay: bool
) -> list[tuple[str, dict[str, object]]]:
    """Billing reports a canceled payment; the deliveries recorded for the customer."""
    event = PaymentCanceled(
        order_id=uuid.uuid4(),
        checkout_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        plan_id="m1",
        provider="yookassa",
        provider_payment_id="2d9f",
        amount=Money(amount_minor=19900, currency="RUB"),
        canceled_at=datetime.now(UTC),
        cancellation_party="payment_network",
        cancellation_reason="insufficient_funds",
        autopay=autopay,
    )
    async with transaction(sessions) as session:
        ctx = MessageContext(
            session=session,
            envelope=Envelope.for_event(event, source="/vpn/test"),
            outbox=Outbox(messaging, source="/vpn/notifier"),
            topic=event.topic.name,
            partition=0,
            offset=0,
        )
        await Recorder(Wakeup()).payment_canceled(event, ctx)
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.template, Delivery.params).where(
                Delivery.customer_id == event.customer_id
            )
        )
        return [(template, params) for template, params in rows.tuples()]


async def test_a_canceled_payment_is_told_but_an_autopay_charge_is_left_to_billing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await canceled(sessions, autopay=False) == [
        (
            "payment.canceled",
            {"amount_minor": 19900, "currency": "RUB", "reason": "insufficient_funds"},
        )
    ]
    assert await canceled(sessions, autopay=True) == []


async def test_a_traffic_threshold_is_one_delivery_even_delivered_twice(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    gib = 1024**3
    event = TrafficThresholdReached(
        subscription_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        threshold=80,
        used_traffic_bytes=81 * gib,
        traffic_limit_bytes=100 * gib,
        traffic_reset="none",
        observed_at=datetime.now(UTC),
    )
    envelope = Envelope.for_event(event, source="/vpn/provisioning")
    for offset in (0, 1):  # the same event read again (a redelivery after a crash)
        async with transaction(sessions) as session:
            ctx = MessageContext(
                session=session,
                envelope=envelope,
                outbox=Outbox(messaging, source="/vpn/notifier"),
                topic=event.topic.name,
                partition=0,
                offset=offset,
            )
            await Recorder(Wakeup()).traffic_threshold(event, ctx)
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.template, Delivery.params).where(
                Delivery.customer_id == event.customer_id
            )
        )
        assert [(template, params) for template, params in rows.tuples()] == [
            (
                "traffic.threshold",
                {
                    "threshold": 80,
                    "used_bytes": 81 * gib,
                    "traffic_limit_bytes": 100 * gib,
                    "left_bytes": 19 * gib,
                    "monthly": "no",
                },
            )
        ]
