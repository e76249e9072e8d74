"""Payments past their expiry are settled from what the provider says, with no word from it.

The sandbox shop sends no notifications, as a provider that says nothing on expiry (Crypto
Pay, WATA) or whose notification was lost. The order's expiry is moved into the past as a
provider's ``expires_at`` would have it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from billing.checkout import CheckoutPayments, Checkouts
from billing.expiry import ExpiredPayments
from billing.models import Order
from billing.orders import order_id_for
from chassis.db import transaction
from chassis.worker import RetryPolicy, Wakeup
from contracts.bot import RequestCheckout

from .conftest import Billing

pytestmark = pytest.mark.integration


def sweeper(billing: Billing, *, checks: int = 3, url: str | None = None) -> ExpiredPayments:
    return ExpiredPayments(
        billing.providers(url),
        billing.sessions,
        billing.outbox,
        grace=timedelta(seconds=0),
        recheck=timedelta(seconds=0),  # due again at once, as if the pause had passed
        checks=checks,
    )


async def pending_order(billing: Billing, *, expired: bool = True) -> Order:
    """A checkout whose YooKassa payment was created and waits for the customer."""
    checkout = uuid.uuid4()
    request = RequestCheckout(
        checkout_id=checkout,
        customer_id=uuid.uuid4(),
        plan_id="m1",
        provider="yookassa",
        requested_at=datetime.now(UTC),
    )
    await billing.consume(
        request,
        Checkouts(billing.providers(), billing.outbox, Wakeup(), wallet_currency="RUB").plan,
    )
    payments = CheckoutPayments(
        billing.providers(),
        billing.sessions,
        billing.outbox,
        attempts=1,
        retry=RetryPolicy(0.01, 0.01),
    )
    assert await payments.step() == 1
    order_id = order_id_for(checkout)
    when = datetime.now(UTC) + (timedelta(minutes=-5) if expired else timedelta(hours=1))
    async with transaction(billing.sessions) as session:
        await session.execute(
            update(Order).where(Order.order_id == order_id).values(payment_expires_at=when)
        )
    order = await billing.order(order_id)
    assert order.status == "pending"
    assert order.provider_payment_id is not None
    return order


async def test_a_payment_canceled_in_silence_is_canceled_and_the_customer_told(
    billing: Billing,
) -> None:
    order = await pending_order(billing)
    assert order.provider_payment_id is not None
    await billing.control.cancel(order.provider_payment_id, reason="expired_on_confirmation")

    assert await sweeper(billing).step() == 1
    canceled = await billing.order(order.order_id)
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "expired_on_confirmation"
    [event] = await billing.events(str(order.order_id), "billing.payment.canceled.v1")
    assert event["cancellation_reason"] == "expired_on_confirmation"
    assert await sweeper(billing).step() == 0  # settled: never asked about again


async def test_a_payment_whose_notification_was_lost_is_paid_and_delivered(
    billing: Billing,
) -> None:
    order = await pending_order(billing)
    assert order.provider_payment_id is not None
    await billing.control.succeed(order.provider_payment_id)  # no notification reaches us

    assert await sweeper(billing).step() == 1
    assert (await billing.order(order.order_id)).status == "paid"
    assert await billing.events(str(order.order_id), "billing.payment.succeeded.v1") != []
    subscription = await billing.subscription(order.customer_id)
    [activated] = await billing.events(
        str(subscription.subscription_id), "billing.subscription.activated.v1"
    )
    assert activated["order_id"] == str(order.order_id)


async def test_a_payment_the_provider_keeps_open_is_closed_after_the_last_check(
    billing: Billing,
) -> None:
    order = await pending_order(billing)
    sweep = sweeper(billing, checks=2)
    assert await sweep.step() == 1  # first look: still open at YooKassa, left alone
    assert (await billing.order(order.order_id)).status == "pending"
    assert await billing.events(str(order.order_id), "billing.payment.canceled.v1") == []

    assert await sweep.step() == 1  # the last look: closed here as expired
    closed = await billing.order(order.order_id)
    assert (closed.status, closed.cancellation_reason) == ("canceled", "expired")
    [event] = await billing.events(str(order.order_id), "billing.payment.canceled.v1")
    assert event["cancellation_party"] == "merchant"

    # Should the money come after all, it is not lost: the order is paid then.
    assert order.provider_payment_id is not None
    await billing.control.succeed(order.provider_payment_id)
    assert await billing.notify("payment.succeeded", order.provider_payment_id) == "paid"
    assert (await billing.order(order.order_id)).status == "paid"


async def test_nothing_is_decided_while_the_provider_cannot_answer_or_before_expiry(
    billing: Billing,
) -> None:
    unexpired = await pending_order(billing, expired=False)
    order = await pending_order(billing)
    down = sweeper(billing, checks=1, url="http://127.0.0.1:9/v3")  # nothing listens there
    assert await down.step() == 1  # only the expired one is looked at
    assert (await billing.order(order.order_id)).status == "pending"
    assert (await billing.order(unexpired.order_id)).status == "pending"

    assert order.provider_payment_id is not None
    await billing.control.cancel(order.provider_payment_id)
    assert await sweeper(billing).step() == 1  # asked again once the provider is back
    assert (await billing.order(order.order_id)).status == "canceled"
    assert (await billing.order(unexpired.order_id)).status == "pending"
