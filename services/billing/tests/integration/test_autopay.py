"""Autopay on a real PostgreSQL and the YooKassa sandbox: a consenting payment saves its
method, the worker reminds and charges when due, access is extended only by a succeeded
charge, declines are retried and told once, and turning autopay off stops any charge that
was not yet made, even one racing it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from billing.autopay import turned_off
from billing.autopay_worker import AutopayCharges
from billing.checkout import CheckoutPayments, Checkouts
from billing.domain.autopay import Schedule, charge_key
from billing.models import Autopay, AutopayConsentRow, Order, PlanPrice
from billing.orders import order_id_for
from chassis.db import transaction
from chassis.worker import RetryPolicy, Wakeup
from contracts.bot import AutopayConsent, AutopayTurnedOff, RequestCheckout
from contracts.money import Money

from .conftest import M1_PRICE, VAT_CODE, Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PRICE = Money(amount_minor=M1_PRICE, currency="RUB")
SCHEDULE = Schedule(
    charge_before=timedelta(days=1),
    notice_before=timedelta(days=3),
    retry_delays=(timedelta(hours=6), timedelta(hours=12)),
)


def consent(amount: Money = PRICE, days: int = 30) -> AutopayConsent:
    return AutopayConsent(
        terms_version="autopay-consent/1",
        language="ru",
        amount=amount,
        period_days=days,
        consented_at=datetime.now(UTC),
    )


def renewals(billing: Billing, *, url: str | None = None, attempts: int = 3) -> AutopayCharges:
    return AutopayCharges(
        billing.providers(url),
        billing.sessions,
        billing.outbox,
        schedule=SCHEDULE,
        unavailable_attempts=attempts,
        unavailable_retry=RetryPolicy(0.01, 0.01),
        pending_timeout=timedelta(hours=1),
        receipts=billing.receipts,
        receipt_vat_code=VAT_CODE,
    )


async def checkout(
    billing: Billing,
    customer: uuid.UUID,
    agreed: AutopayConsent | None,
    *,
    autopay: bool = True,
    email: str | None = None,
) -> uuid.UUID:
    checkout_id = uuid.uuid4()
    request = RequestCheckout(
        checkout_id=checkout_id,
        customer_id=customer,
        plan_id="m1",
        provider="yookassa",
        currency="RUB",
        requested_at=datetime.now(UTC),
        save_payment_method=agreed is not None,
        autopay_consent=agreed,
        receipt_email=email,
    )
    checkouts = Checkouts(
        billing.providers(),
        billing.outbox,
        Wakeup(),
        wallet_currency="RUB",
        receipts=billing.receipts,
        autopay=autopay,
    )
    await billing.consume(request, checkouts.plan)
    return checkout_id


async def buy(
    billing: Billing, customer: uuid.UUID, agreed: AutopayConsent | None, email: str | None = None
) -> Order:
    """A plan bought and paid in the sandbox, saving the card when ``agreed``."""
    checkout_id = await checkout(billing, customer, agreed, email=email)
    payments = CheckoutPayments(
        billing.providers(),
        billing.sessions,
        billing.outbox,
        attempts=1,
        retry=RetryPolicy(0.01, 0.01),
        receipt_vat_code=VAT_CODE,
    )
    assert await payments.step() == 1
    order = await billing.order(order_id_for(checkout_id))
    assert order.provider_payment_id is not None
    await billing.control.succeed(order.provider_payment_id, payment_method_type="bank_card")
    assert await billing.notify("payment.succeeded", order.provider_payment_id) == "paid"
    return await billing.order(order.order_id)


async def with_autopay(billing: Billing) -> tuple[uuid.UUID, Order, AutopayCharges]:
    """A customer whose first payment saved the card, the worker having planned it."""
    customer = uuid.uuid4()
    order = await buy(billing, customer, consent())
    worker = renewals(billing)
    await worker.step()
    return customer, order, worker


async def row_of(billing: Billing, customer: uuid.UUID) -> Autopay:
    async with billing.sessions() as session:
        row = await session.get(Autopay, customer)
    assert row is not None
    return row


async def make_due(billing: Billing, customer: uuid.UUID, column: str = "charge_due_at") -> None:
    async with transaction(billing.sessions) as session:
        await session.execute(
            update(Autopay)
            .where(Autopay.customer_id == customer)
            .values({column: datetime.now(UTC) - timedelta(seconds=1)})
        )


async def charges_of(billing: Billing, method_id: str) -> list[str]:
    state = await billing.control.payment_method(method_id)
    return list(state["charges"])


async def told(billing: Billing, customer: uuid.UUID, template: str) -> list[dict[str, Any]]:
    sent = await billing.events(str(customer), "notifier.notification.requested.v1")
    return [event for event in sent if event["template"] == template]


async def autopay_events(billing: Billing, customer: uuid.UUID) -> list[dict[str, Any]]:
    return await billing.events(str(customer), "billing.autopay.changed.v1")


async def charge_orders(billing: Billing, customer: uuid.UUID) -> list[Order]:
    async with billing.sessions() as session:
        found = await session.scalars(
            select(Order)
            .where(Order.customer_id == customer, Order.autopay_charge)
            .order_by(Order.created_at)
        )
        return list(found)


async def test_a_consenting_payment_saves_the_card_and_turns_autopay_on(billing: Billing) -> None:
    customer, order, _ = await with_autopay(billing)
    payment = await billing.control.payment(str(order.provider_payment_id))
    assert payment["saved_payment_method"] == {"id": order.provider_payment_id, "revoked": False}
    row = await row_of(billing, customer)
    assert row.enabled
    assert row.method_id == order.provider_payment_id  # YooKassa: the first payment's id
    assert row.method_title == "Bank card *4477"
    subscription = await billing.subscription(customer)
    assert row.period_end == subscription.period_end
    assert row.charge_due_at == subscription.period_end - SCHEDULE.charge_before
    assert row.notice_due_at == subscription.period_end - SCHEDULE.notice_before
    (changed,) = await autopay_events(billing, customer)
    assert changed["enabled"] is True
    assert changed["revision"] == 1
    assert changed["amount"] == {"amount_minor": M1_PRICE, "currency": "RUB"}
    (enabled,) = await told(billing, customer, "autopay.enabled")
    assert enabled["params"]["method_title"] == "Bank card *4477"
    assert enabled["params"]["period_days"] == 30
    async with billing.sessions() as session:
        logged = await session.get(AutopayConsentRow, order.autopay_consent_id)
    assert logged is not None
    assert logged.terms_version == "autopay-consent/1"
    assert (logged.amount_minor, logged.period_days, logged.withdrawn_at) == (M1_PRICE, 30, None)


async def test_a_payment_without_consent_saves_nothing(billing: Billing) -> None:
    customer = uuid.uuid4()
    order = await buy(billing, customer, None)
    payment = await billing.control.payment(str(order.provider_payment_id))
    assert payment["saved_payment_method"] is None
    async with billing.sessions() as session:
        assert await session.get(Autopay, customer) is None


async def test_a_renewal_carries_its_receipt(billing: Billing) -> None:
    """With 54-FZ receipts on, a renewal the customer does not see is a payment like any
    other: the fiscalized shop refuses one without its receipt."""
    fiscal = billing.with_receipts()
    customer = uuid.uuid4()
    order = await buy(fiscal, customer, consent(), email="ivan@example.ru")
    worker = renewals(fiscal)
    await worker.step()
    await make_due(fiscal, customer)
    await worker.step()
    (charge,) = await charge_orders(fiscal, customer)
    assert charge.status == "paid"
    assert charge.receipt_email == "ivan@example.ru"
    state = await fiscal.control.payment(str(charge.provider_payment_id))
    assert state["payment_method_id"] == order.provider_payment_id
    assert state["receipt"]["customer"] == {"email": "ivan@example.ru"}
    assert state["receipt"]["items"][0]["vat_code"] == VAT_CODE


async def test_the_reminder_is_sent_once_when_due(billing: Billing) -> None:
    customer, _, worker = await with_autopay(billing)
    await make_due(billing, customer, "notice_due_at")
    assert await worker.step() == 1
    assert await worker.step() == 0
    (upcoming,) = await told(billing, customer, "autopay.upcoming")
    row = await row_of(billing, customer)
    assert upcoming["params"]["charge_at"] == row.charge_due_at.isoformat()  # type: ignore[union-attr]
    assert row.notice_due_at is None


async def test_a_due_charge_extends_access_only_once_it_succeeded(billing: Billing) -> None:
    customer, order, worker = await with_autopay(billing)
    before = await billing.subscription(customer)
    await make_due(billing, customer)
    assert await worker.step() == 1
    (charge,) = await charge_orders(billing, customer)
    assert charge.status == "paid"
    assert charge.checkout_id == charge_key(before.subscription_id, before.period_end, 0)
    assert await charges_of(billing, str(order.provider_payment_id)) == [charge.provider_payment_id]
    after = await billing.subscription(customer)
    assert after.period_end == before.period_end + timedelta(days=30)
    (extended,) = await billing.events(
        str(before.subscription_id), "billing.subscription.extended.v1"
    )
    assert extended["order_id"] == str(charge.order_id)
    # The notification YooKassa sends as well changes nothing.
    assert await billing.notify("payment.succeeded", str(charge.provider_payment_id)) == "duplicate"
    await worker.step()
    row = await row_of(billing, customer)
    assert row.period_end == after.period_end
    assert row.charge_due_at == after.period_end - SCHEDULE.charge_before
    assert [event["revision"] for event in await autopay_events(billing, customer)] == [1, 2]


async def test_declines_are_retried_on_the_schedule_and_told_once(billing: Billing) -> None:
    customer, order, worker = await with_autopay(billing)
    method = str(order.provider_payment_id)
    await billing.control.plan_charges(method, "canceled", reason="insufficient_funds", count=2)
    before = await billing.subscription(customer)
    for expected_retry in SCHEDULE.retry_delays:
        await make_due(billing, customer)
        await worker.step()  # declined
        started = datetime.now(UTC)
        await worker.step()  # planned: the next try
        row = await row_of(billing, customer)
        assert row.charge_due_at is not None
        assert started <= row.charge_due_at <= datetime.now(UTC) + expected_retry
        assert row.charge_due_at >= started + expected_retry - timedelta(seconds=5)
        assert (await billing.subscription(customer)).period_end == before.period_end
    (failed,) = await told(billing, customer, "autopay.charge_failed")
    assert failed["params"]["reason"] == "insufficient_funds"
    assert failed["params"]["retries_left"] == 2
    canceled = await billing.events(
        str((await charge_orders(billing, customer))[0].order_id), "billing.payment.canceled.v1"
    )
    assert canceled[0]["autopay"] is True
    await make_due(billing, customer)
    await worker.step()  # the third try: paid
    orders = await charge_orders(billing, customer)
    assert [o.status for o in orders] == ["canceled", "canceled", "paid"]
    assert len({o.checkout_id for o in orders}) == 3  # a new key after each decline
    after = await billing.subscription(customer)
    assert after.period_end == before.period_end + timedelta(days=30)
    assert len(await told(billing, customer, "autopay.charge_failed")) == 1


async def test_autopay_stops_when_every_try_was_declined(billing: Billing) -> None:
    customer, order, worker = await with_autopay(billing)
    await billing.control.plan_charges(str(order.provider_payment_id), "canceled", count=3)
    for _ in range(3):
        await make_due(billing, customer)
        await worker.step()
        await worker.step()
    row = await row_of(billing, customer)
    assert (row.enabled, row.disabled_reason, row.method_id) == (False, "charges_failed", None)
    assert len(await told(billing, customer, "autopay.charge_failed")) == 1
    assert await told(billing, customer, "autopay.stopped") == []
    assert len(await charges_of(billing, str(order.provider_payment_id))) == 3


async def test_a_revoked_consent_stops_autopay_at_once(billing: Billing) -> None:
    customer, order, worker = await with_autopay(billing)
    await billing.control.revoke_payment_method(str(order.provider_payment_id))
    await make_due(billing, customer)
    await worker.step()
    await worker.step()
    row = await row_of(billing, customer)
    assert (row.enabled, row.disabled_reason) == (False, "permission_revoked")
    (stopped,) = await told(billing, customer, "autopay.stopped")
    assert stopped["params"]["why"] == "permission_revoked"
    assert await told(billing, customer, "autopay.charge_failed") == []


async def test_turned_off_before_the_charge_nothing_is_charged(billing: Billing) -> None:
    customer, order, worker = await with_autopay(billing)
    await make_due(billing, customer)
    await billing.consume(
        AutopayTurnedOff(customer_id=customer, turned_off_at=datetime.now(UTC)), turned_off
    )
    assert await worker.step() == 0
    assert await charges_of(billing, str(order.provider_payment_id)) == []
    row = await row_of(billing, customer)
    assert (row.enabled, row.disabled_reason, row.method_id) == (False, "customer", None)
    changed = (await autopay_events(billing, customer))[-1]
    assert (changed["enabled"], changed["reason"]) == (False, "customer")
    async with billing.sessions() as session:
        logged = await session.get(AutopayConsentRow, order.autopay_consent_id)
    assert logged is not None
    assert logged.withdrawn_by == "customer"


async def test_turning_off_races_a_due_charge_and_no_charge_follows_it(billing: Billing) -> None:
    """Both at once, for many customers: a charge is made only if it was recorded before
    autopay was off; nothing is charged after, and never twice."""
    customers = []
    for _ in range(16):
        customer, order, _ = await with_autopay(billing)
        await make_due(billing, customer)
        customers.append((customer, str(order.provider_payment_id)))
    worker = renewals(billing)
    presses = [
        billing.consume(
            AutopayTurnedOff(customer_id=customer, turned_off_at=datetime.now(UTC)), turned_off
        )
        for customer, _ in customers
    ]
    await asyncio.gather(worker.step(), *presses)
    await worker.step()
    for customer, method in customers:
        row = await row_of(billing, customer)
        assert not row.enabled
        assert row.disabled_at is not None
        made = await charge_orders(billing, customer)
        assert len(await charges_of(billing, method)) == len(made) <= 1
        for charge in made:
            assert charge.created_at < row.disabled_at


async def test_no_answer_asks_again_with_the_same_key(billing: Billing) -> None:
    customer, order, worker = await with_autopay(billing)
    await billing.control.fail_next("create_payment", status=500, executed=True)
    await make_due(billing, customer)
    await worker.step()
    (charge,) = await charge_orders(billing, customer)
    assert charge.status == "pending"
    row = await row_of(billing, customer)
    assert row.charge_order_id == charge.order_id
    assert row.unavailable_attempts == 1
    await asyncio.sleep(0.05)
    await worker.step()
    (charge,) = await charge_orders(billing, customer)
    assert charge.status == "paid"
    assert len(await charges_of(billing, str(order.provider_payment_id))) == 1


async def test_turned_off_while_the_provider_does_not_answer_no_new_call(billing: Billing) -> None:
    customer, order, worker = await with_autopay(billing)
    await billing.control.fail_next("create_payment", status=500)
    await make_due(billing, customer)
    await worker.step()
    await billing.consume(
        AutopayTurnedOff(customer_id=customer, turned_off_at=datetime.now(UTC)), turned_off
    )
    await asyncio.sleep(0.05)
    assert await worker.step() == 0
    assert await charges_of(billing, str(order.provider_payment_id)) == []


async def test_a_raised_price_stops_autopay_instead_of_charging_more(billing: Billing) -> None:
    customer, order, worker = await with_autopay(billing)
    async with transaction(billing.sessions) as session:
        await session.execute(
            update(PlanPrice)
            .where(PlanPrice.plan_id == "m1", PlanPrice.currency == "RUB")
            .values(amount_minor=M1_PRICE + 10000)
        )
    try:
        await make_due(billing, customer)
        await worker.step()
    finally:
        async with transaction(billing.sessions) as session:
            await session.execute(
                update(PlanPrice)
                .where(PlanPrice.plan_id == "m1", PlanPrice.currency == "RUB")
                .values(amount_minor=M1_PRICE)
            )
    row = await row_of(billing, customer)
    assert (row.enabled, row.disabled_reason) == (False, "price_raised")
    assert await charges_of(billing, str(order.provider_payment_id)) == []
    (stopped,) = await told(billing, customer, "autopay.stopped")
    assert stopped["params"]["why"] == "price_raised"


async def test_a_payment_by_hand_moves_the_next_charge(billing: Billing) -> None:
    customer, _, worker = await with_autopay(billing)
    await buy(billing, customer, None)
    await worker.step()
    subscription = await billing.subscription(customer)
    row = await row_of(billing, customer)
    assert row.period_end == subscription.period_end
    assert row.charge_due_at == subscription.period_end - SCHEDULE.charge_before
    assert (await autopay_events(billing, customer))[-1]["revision"] == 2


async def test_a_full_refund_turns_autopay_off(billing: Billing) -> None:
    customer, order, _ = await with_autopay(billing)
    await billing.refund(order)
    await billing.worker().step()
    row = await row_of(billing, customer)
    assert (row.enabled, row.disabled_reason) == (False, "subscription_refunded")
    (stopped,) = await told(billing, customer, "autopay.stopped")
    assert stopped["params"]["why"] == "subscription_refunded"


async def test_consent_is_refused_when_autopay_is_not_offered(billing: Billing) -> None:
    customer = uuid.uuid4()
    off = await checkout(billing, customer, consent(), autopay=False)
    (failed,) = await billing.events(str(off), "billing.checkout.failed.v1")
    assert failed["reason_code"] == "autopay_unavailable"
    changed = await checkout(billing, customer, consent(Money(amount_minor=9900, currency="RUB")))
    (failed,) = await billing.events(str(changed), "billing.checkout.failed.v1")
    assert failed["reason_code"] == "price_changed"
    async with billing.sessions() as session:
        logged = await session.scalar(
            select(func.count()).where(AutopayConsentRow.customer_id == customer)
        )
    assert logged == 0
