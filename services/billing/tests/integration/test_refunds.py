"""Refunds against a real, migrated PostgreSQL and the YooKassa sandbox in this process.

A customer buys through the checkout consumer and worker, pays in the sandbox, and
YooKassa's notification settles the order through the verifier; then an operator's refund
goes command → worker → YooKassa → ledger, order, subscription and events. Notifications
are given to the verifier as the gateway would hand them over.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from billing import ledger, refunds
from billing.domain import ledger as entries
from billing.domain.refunds import RefundRefused
from billing.models import Order, ProviderNotification, Refund
from billing.texts import say
from chassis.db import transaction
from contracts.money import Money
from devstack._proc import free_port

from .conftest import M1_PRICE, Billing, tables

pytestmark = pytest.mark.integration


async def test_a_partial_then_a_full_refund(billing: Billing) -> None:
    order = await billing.buy()
    paid_end = (await billing.subscription(order.customer_id)).period_end

    requested = await billing.refund(order, "99.00")
    assert requested.amount == Money(amount_minor=9900, currency="RUB")
    assert (await billing.refund_row(requested.refund_id)).status == "requested"
    assert await billing.events(str(order.order_id), "billing.payment.refunded.v1") == []

    assert await billing.worker().step() == 1
    first = await billing.refund_row(requested.refund_id)
    assert first.status == "succeeded"
    assert first.provider_refund_id is not None
    [refunded] = await billing.events(str(order.order_id), "billing.payment.refunded.v1")
    assert refunded["amount"] == {"amount_minor": 9900, "currency": "RUB"}
    assert refunded["refunded_total"] == {"amount_minor": 9900, "currency": "RUB"}
    assert refunded["full"] is False
    assert refunded["source"] == "operator"
    assert refunded["refunded_to"] == "provider"
    assert refunded["provider_refund_id"] == first.provider_refund_id
    # 99 of 199 roubles take back 99/199 of the 30 days.
    subscription = await billing.subscription(order.customer_id)
    removed = timedelta(seconds=30 * 86400 * 9900 // M1_PRICE)
    assert subscription.period_end == paid_end - removed
    [shortened] = await billing.events(
        str(subscription.subscription_id), "billing.subscription.shortened.v1"
    )
    assert shortened["ended"] is False
    assert datetime.fromisoformat(shortened["period_end"]) == paid_end - removed
    assert datetime.fromisoformat(shortened["previous_period_end"]) == paid_end
    assert shortened["revision"] == 2  # activated at 1
    assert (await billing.order(order.order_id)).status == "paid"

    rest = await billing.refund(order)  # all that is left
    assert rest.amount == Money(amount_minor=10000, currency="RUB")
    assert await billing.worker().step() == 1
    refunded_order = await billing.order(order.order_id)
    assert refunded_order.status == "refunded"
    assert refunded_order.refunded_minor == M1_PRICE
    last = (await billing.events(str(order.order_id), "billing.payment.refunded.v1"))[-1]
    assert last["full"] is True
    assert last["refunded_total"] == {"amount_minor": M1_PRICE, "currency": "RUB"}
    # The rest of the current period is taken back too: access ends now.
    ended = (
        await billing.events(str(subscription.subscription_id), "billing.subscription.shortened.v1")
    )[-1]
    assert ended["ended"] is True
    assert ended["period_end"] == ended["shortened_at"]
    assert last["period_end"] == ended["period_end"]

    assert order.provider_payment_id is not None
    state = await billing.control.payment(order.provider_payment_id)
    assert state["payment"]["refunded_amount"] == {"value": "199.00", "currency": "RUB"}
    assert len(state["refunds"]) == 2
    assert await billing.balance(entries.refunds("yookassa", "RUB")) <= -M1_PRICE
    async with billing.sessions() as session:
        assert await ledger.unbalanced(session) == []
        keys = await session.scalars(
            select(tables.outbox.c.key).where(tables.outbox.c.event_type.like("%refunded%"))
        )
        assert str(order.order_id) in set(keys)


async def test_more_than_was_paid_is_refused_and_nothing_is_recorded(billing: Billing) -> None:
    order = await billing.buy()
    await billing.refund(order, "150.00")  # in flight: not asked of YooKassa yet

    for amount, code in (
        ("50.00", "amount_exceeds_paid"),
        ("200.00", "amount_exceeds_paid"),
        ("0", "amount_not_positive"),
        ("-5", "amount_not_positive"),
        ("1.005", "amount_invalid"),
    ):
        with pytest.raises(RefundRefused) as refused:
            await billing.refund(order, amount)
        assert refused.value.code == code, amount
    await billing.refund(order, "49.00")
    with pytest.raises(RefundRefused) as refused:
        await billing.refund(order)
    assert refused.value.code == "nothing_left"

    unknown = Order(order_id=uuid.uuid4())
    with pytest.raises(RefundRefused) as refused:
        await billing.refund(unknown)
    assert refused.value.code == "order_not_found"
    async with billing.sessions() as session:
        rows = await session.scalars(
            select(Refund.amount_minor).where(Refund.order_id == order.order_id)
        )
        assert sorted(rows) == [4900, 15000]


async def test_a_provider_that_is_down_is_asked_again_with_the_same_key(billing: Billing) -> None:
    order = await billing.buy()
    assert order.provider_payment_id is not None
    requested = await billing.refund(order, "50.00")

    await billing.control.outage("error", status=502)
    try:
        assert await billing.worker().step() == 1
    finally:
        await billing.control.restore()
    waiting = await billing.refund_row(requested.refund_id)
    assert (waiting.status, waiting.attempts) == ("requested", 1)
    assert waiting.due_at is not None

    # YooKassa makes the refund and the answer is lost: the retry names the same refund.
    await billing.control.fail_next("create_refund", status=500, executed=True)
    await billing.due_now()
    assert await billing.worker().step() == 1
    assert (await billing.refund_row(requested.refund_id)).status == "requested"
    await billing.due_now()
    assert await billing.worker().step() == 1

    done = await billing.refund_row(requested.refund_id)
    assert (done.status, done.attempts) == ("succeeded", 3)
    state = await billing.control.payment(order.provider_payment_id)
    assert len(state["refunds"]) == 1
    assert len(await billing.events(str(order.order_id), "billing.payment.refunded.v1")) == 1


async def test_a_provider_that_never_answers_fails_the_refund_after_its_attempts(
    billing: Billing,
) -> None:
    order = await billing.buy()
    requested = await billing.refund(order)
    unreachable = billing.worker(f"http://127.0.0.1:{free_port()}/v3", attempts=2)
    for _ in range(2):
        await billing.due_now()
        assert await unreachable.step() == 1
    failed = await billing.refund_row(requested.refund_id)
    assert failed.status == "failed"
    assert "did not answer" in (failed.failure_reason or "")
    assert failed.due_at is None
    assert (await billing.order(order.order_id)).refunded_minor == 0
    assert await billing.events(str(order.order_id), "billing.payment.refunded.v1") == []
    # Failed holds nothing: the order can be refunded again.
    assert (await billing.refund(order)).amount.amount_minor == M1_PRICE


async def test_the_notification_of_billings_own_refund_is_a_duplicate(billing: Billing) -> None:
    order = await billing.buy()
    requested = await billing.refund(order, "20.00")
    assert order.provider_payment_id is not None

    # YooKassa made the refund and says so before the worker has recorded its answer: the
    # notification waits rather than being taken for a refund made in the cabinet.
    early = await billing.client().create_refund(
        idempotence_key=str(requested.refund_id),
        payment_id=order.provider_payment_id,
        amount=Money(amount_minor=2000, currency="RUB"),
        description=say("refund-description", "ru", order=order.order_id.hex[:8]),
    )
    assert await billing.notify("refund.succeeded", early.provider_refund_id) is None

    assert await billing.worker().step() == 1  # the same key: the same refund
    assert (await billing.refund_row(requested.refund_id)).provider_refund_id == (
        early.provider_refund_id
    )
    await billing.due_now()
    await billing.verifier().step()
    assert await billing.notify("refund.succeeded", early.provider_refund_id) == "duplicate"
    async with billing.sessions() as session:
        outcomes = await session.scalars(
            select(ProviderNotification.outcome).where(
                ProviderNotification.reference == early.provider_refund_id
            )
        )
        assert sorted(o or "" for o in outcomes) == ["duplicate", "duplicate"]
    assert len(await billing.events(str(order.order_id), "billing.payment.refunded.v1")) == 1
    assert (await billing.order(order.order_id)).refunded_minor == 2000


async def test_a_refund_made_in_the_cabinet_is_applied_once(billing: Billing) -> None:
    order = await billing.buy()
    assert order.provider_payment_id is not None
    made = await billing.client().create_refund(
        idempotence_key=str(uuid.uuid4()),
        payment_id=order.provider_payment_id,
        amount=Money(amount_minor=M1_PRICE, currency="RUB"),
        description="refund in the cabinet",
    )
    assert await billing.notify("refund.succeeded", made.provider_refund_id) == "refunded"
    assert await billing.notify("refund.succeeded", made.provider_refund_id) == "duplicate"

    [refunded] = await billing.events(str(order.order_id), "billing.payment.refunded.v1")
    assert refunded["source"] == "provider"
    assert refunded["full"] is True
    async with billing.sessions() as session:
        [refund] = await session.scalars(select(Refund).where(Refund.order_id == order.order_id))
    assert (refund.source, refund.status) == ("provider", "succeeded")
    assert (await billing.order(order.order_id)).status == "refunded"
    with pytest.raises(RefundRefused) as refused:
        await billing.refund(order)
    assert refused.value.code == "order_refunded"


async def test_a_refund_of_no_order_of_ours_is_rejected(billing: Billing) -> None:
    stranger = await billing.client().create_payment(
        idempotence_key=str(uuid.uuid4()),
        amount=Money(amount_minor=10000, currency="RUB"),
        description="not billing's",
        return_url="https://t.me/shop_bot",
        metadata={},
    )
    await billing.control.succeed(stranger.id)
    made = await billing.client().create_refund(
        idempotence_key=str(uuid.uuid4()),
        payment_id=stranger.id,
        amount=Money(amount_minor=10000, currency="RUB"),
        description="x",
    )
    outcome = await billing.notify("refund.succeeded", made.provider_refund_id)
    assert outcome == "rejected_unknown_refund"


async def test_a_plan_paid_from_the_wallet_is_refunded_onto_it_at_once(billing: Billing) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    async with transaction(billing.sessions) as session:
        await ledger.post(
            session,
            entries.bonus(
                key=str(uuid.uuid4()),
                customer_id=customer,
                amount=Money(amount_minor=30000, currency="RUB"),
            ),
        )
    order = await billing.buy(provider="wallet", customer=customer)
    assert await billing.balance(wallet) == 30000 - M1_PRICE

    requested = await billing.refund(order, "100.00")
    assert requested.status == "succeeded"
    assert await billing.balance(wallet) == 30000 - M1_PRICE + 10000
    [refunded] = await billing.events(str(order.order_id), "billing.payment.refunded.v1")
    assert refunded["refunded_to"] == "wallet"
    assert refunded["provider"] == "wallet"
    assert refunded.get("provider_refund_id") is None
    changes = await billing.events(str(customer), "billing.wallet.changed.v1")
    assert changes[-1]["credited"] is True
    assert changes[-1]["kind"] == "refund"
    assert changes[-1]["balance"] == {"amount_minor": 30000 - M1_PRICE + 10000, "currency": "RUB"}
    assert await billing.worker().step() == 0  # nothing to ask a provider


async def test_a_top_up_is_refunded_only_while_the_wallet_holds_its_credit(
    billing: Billing,
) -> None:
    topup = await billing.buy(topup=True)  # 300 RUB of credit
    wallet = entries.wallet(topup.customer_id, "RUB")
    assert await billing.balance(wallet) == 30000
    await billing.buy(provider="wallet", customer=topup.customer_id)  # spends 199
    assert await billing.balance(wallet) == 10100

    with pytest.raises(RefundRefused) as refused:
        await billing.refund(topup)
    assert refused.value.code == "credit_spent"
    requested = await billing.refund(topup, "100.00")
    assert await billing.worker().step() == 1
    assert (await billing.refund_row(requested.refund_id)).status == "succeeded"
    assert await billing.balance(wallet) == 100
    [change] = [
        c
        for c in await billing.events(str(topup.customer_id), "billing.wallet.changed.v1")
        if c["kind"] == "refund"
    ]
    assert change["credited"] is False
    assert change["amount"] == {"amount_minor": 10000, "currency": "RUB"}
    async with billing.sessions() as session:
        assert await ledger.unbalanced(session) == []


async def test_a_notification_racing_the_workers_answer_is_not_a_second_refund(
    billing: Billing,
) -> None:
    order = await billing.buy()
    assert order.provider_payment_id is not None
    requested = await billing.refund(order, "50.00")
    state = await billing.client().create_refund(
        idempotence_key=str(requested.refund_id),
        payment_id=order.provider_payment_id,
        amount=Money(amount_minor=5000, currency="RUB"),
        description=say("refund-description", "ru", order=order.order_id.hex[:8]),
    )
    # The worker records YooKassa's answer; before it commits, the notification arrives
    # and finds no refund with YooKassa's id yet, then waits for the order's lock.
    async with transaction(billing.sessions) as session:
        outcome = await refunds.apply(session, "yookassa", state, refund_id=requested.refund_id)
        assert outcome.outcome == "refunded"
        await billing.outbox.add_many(session, list(outcome.events))
        racing = asyncio.create_task(billing.notify("refund.succeeded", state.provider_refund_id))
        await asyncio.sleep(0.5)
        assert not racing.done()
    assert await racing is None  # decided again, from the top
    await billing.due_now()
    await billing.verifier().step()
    async with billing.sessions() as session:
        [decided] = await session.scalars(
            select(ProviderNotification.outcome).where(
                ProviderNotification.reference == state.provider_refund_id
            )
        )
    assert decided == "duplicate"
    assert len(await billing.events(str(order.order_id), "billing.payment.refunded.v1")) == 1
    assert (await billing.order(order.order_id)).refunded_minor == 5000
