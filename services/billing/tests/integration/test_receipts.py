"""54-FZ receipts: a payment (and a refund) through a fiscalized YooKassa shop carries the
receipt with the reference's fields; without an e-mail the checkout is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from billing.checkout import Checkouts
from billing.customers import record_customer, record_email
from billing.models import Order
from billing.orders import order_id_for
from chassis.worker import Wakeup
from contracts.bot import CustomerEmailProvided, CustomerRegistered, RequestCheckout

from .conftest import VAT_CODE, Billing

pytestmark = pytest.mark.integration


async def test_a_payment_and_its_refund_carry_the_receipt(billing: Billing) -> None:
    fiscal = billing.with_receipts()
    order = await fiscal.buy(email="buyer@example.ru")
    assert order.receipt_email == "buyer@example.ru"
    assert order.provider_payment_id is not None

    state = await fiscal.control.payment(order.provider_payment_id)
    receipt = state["receipt"]
    assert receipt["customer"] == {"email": "buyer@example.ru"}
    [item] = receipt["items"]
    assert item["amount"] == {"value": "199.00", "currency": "RUB"}
    assert item["quantity"] in (1, "1", "1.00")
    assert item["vat_code"] == VAT_CODE
    assert item["payment_subject"] == "service"
    assert item["payment_mode"] == "full_payment"
    assert item["description"]

    await fiscal.refund(order, "99.00")
    assert await fiscal.worker().step() == 1
    refunded = await fiscal.control.payment(order.provider_payment_id)
    [refund] = refunded["refunds"]
    sent = await fiscal.control.refund(refund["id"])
    assert sent["receipt"]["customer"] == {"email": "buyer@example.ru"}
    [line] = sent["receipt"]["items"]
    assert line["amount"] == {"value": "99.00", "currency": "RUB"}


async def test_without_an_e_mail_the_checkout_is_refused_and_no_order_is_made(
    billing: Billing,
) -> None:
    fiscal = billing.with_receipts()
    checkout = uuid.uuid4()
    request = RequestCheckout(
        checkout_id=checkout,
        customer_id=uuid.uuid4(),
        plan_id="m1",
        provider="yookassa",
        requested_at=datetime.now(UTC),
    )
    checkouts = Checkouts(
        fiscal.providers(), fiscal.outbox, Wakeup(), wallet_currency="RUB", receipts=True
    )
    await fiscal.consume(request, checkouts.plan)
    [failed] = await fiscal.events(str(checkout), "billing.checkout.failed.v1")
    assert failed["reason_code"] == "email_required"
    async with fiscal.sessions() as session:
        assert await session.get(Order, order_id_for(checkout)) is None


async def test_the_e_mail_the_customer_gave_the_bot_is_used(billing: Billing) -> None:
    fiscal = billing.with_receipts()
    customer = uuid.uuid4()
    telegram_id = 700_000_000 + customer.int % 1_000_000
    registered = CustomerRegistered(
        customer_id=customer,
        telegram_user_id=telegram_id,
        chat_id=telegram_id,
        language="ru",
        registered_at=datetime.now(UTC),
    )
    await fiscal.consume(registered, record_customer)
    given = CustomerEmailProvided(
        customer_id=customer, email="given@example.ru", provided_at=datetime.now(UTC)
    )
    await fiscal.consume(given, record_email)

    order = await fiscal.buy(customer=customer)  # the checkout names no address
    assert order.receipt_email == "given@example.ru"
    assert order.provider_payment_id is not None
    state = await fiscal.control.payment(order.provider_payment_id)
    assert state["receipt"]["customer"] == {"email": "given@example.ru"}
