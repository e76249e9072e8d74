"""Referral rewards on a real PostgreSQL: a newcomer's first payment rewards the customer
whose link they came by, once, as a wallet share (a ledger posting) or days; never for
oneself or in a loop, at most so many a day; a full refund takes it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing.customers import record_customer
from billing.domain import ledger as entries
from billing.domain.referrals import ReferralTerms
from billing.lifecycle import REFERRAL
from billing.models import ReferralReward
from billing.referrals import Referrals
from chassis.clock import SystemClock
from chassis.timers import TimerWorker
from chassis.worker import RetryPolicy
from contracts.billing import PaymentRefunded
from contracts.bot import CustomerRegistered, referral_code_for

from .conftest import M1_PRICE, Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SHARE = ReferralTerms(
    reward="share", share_percent=10, days=7, newcomer_days=0, daily_cap=10, wallet_currency="RUB"
)


async def registered(
    billing: Billing, *, came_by: uuid.UUID | None = None, customer: uuid.UUID | None = None
) -> uuid.UUID:
    customer = customer or uuid.uuid4()
    event = CustomerRegistered(
        customer_id=customer,
        telegram_user_id=uuid.uuid4().int % 10**12 + 1,
        chat_id=1,
        language="ru",
        referral_code=referral_code_for(came_by) if came_by else None,
        registered_at=datetime.now(UTC),
    )
    await billing.consume(event, record_customer)
    return customer


async def paid(billing: Billing, customer: uuid.UUID, terms: ReferralTerms = SHARE) -> Any:
    """A payment of m1, and the due time it set for a newcomer who came by a link fired."""
    order = await billing.buy(customer=customer)
    due = TimerWorker(
        "billing",
        billing.sessions,
        billing.outbox,
        SystemClock(),
        {REFERRAL: Referrals(terms).due},
        retry=RetryPolicy(1, 1),
    )
    while await due.step():
        pass
    return order


async def rewards(billing: Billing, referrer: uuid.UUID) -> list[dict[str, Any]]:
    return await billing.events(str(referrer), "billing.referral.rewarded.v1")


async def test_the_first_payment_of_a_newcomer_credits_a_share_once(billing: Billing) -> None:
    referrer = await registered(billing)
    newcomer = await registered(billing, came_by=referrer)
    order = await paid(billing, newcomer)
    [rewarded] = await rewards(billing, referrer)
    assert (rewarded["kind"], rewarded["amount"]) == (
        "share",
        {"amount_minor": M1_PRICE // 10, "currency": "RUB"},
    )
    assert rewarded["newcomer_id"] == str(newcomer)
    assert await billing.balance(entries.wallet(referrer, "RUB")) == M1_PRICE // 10
    assert await billing.balance(entries.bonuses("RUB")) <= -(M1_PRICE // 10)
    told = await billing.events(str(referrer), "notifier.notification.requested.v1")
    assert told[-1]["template"] == "referral.rewarded"
    [credited] = await billing.events(str(referrer), "billing.wallet.changed.v1")
    assert (credited["kind"], credited["credited"]) == ("bonus", True)

    await paid(billing, newcomer)  # a second payment: nothing more
    assert len(await rewards(billing, referrer)) == 1

    # Refunded in full: the share comes off the referrer's wallet.
    await billing.refund(order)
    assert await billing.worker().step() == 1
    [refunded] = await billing.events(str(order.order_id), "billing.payment.refunded.v1")
    await billing.consume(PaymentRefunded.model_validate(refunded), Referrals(SHARE).refunded)
    assert await billing.balance(entries.wallet(referrer, "RUB")) == 0
    reversed_ = (await rewards(billing, referrer))[-1]
    assert (reversed_["reversed"], reversed_["amount"]["amount_minor"]) == (True, M1_PRICE // 10)
    async with billing.sessions() as session:
        row = await session.get(ReferralReward, newcomer)
    assert row is not None
    assert (row.status, row.reversed_minor) == ("reversed", M1_PRICE // 10)


async def test_no_reward_for_oneself_in_a_loop_or_past_the_daily_cap(billing: Billing) -> None:
    # Oneself: a customer who came by their own link.
    loner = uuid.uuid4()
    await registered(billing, customer=loner, came_by=loner)
    await paid(billing, loner)
    assert await rewards(billing, loner) == []

    # A loop: the referrer came by the newcomer's link.
    first = uuid.uuid4()
    second = await registered(billing, came_by=first)
    await registered(billing, customer=first, came_by=second)
    await paid(billing, first)
    assert await rewards(billing, second) == []

    # The cap: two a day.
    capped = ReferralTerms(
        reward="share",
        share_percent=10,
        days=0,
        newcomer_days=0,
        daily_cap=2,
        wallet_currency="RUB",
    )
    referrer = await registered(billing)
    for _ in range(3):
        await paid(billing, await registered(billing, came_by=referrer), capped)
    assert len(await rewards(billing, referrer)) == 2


async def test_days_are_added_to_the_referrer_and_taken_back_by_a_refund(
    billing: Billing,
) -> None:
    days = ReferralTerms(
        reward="days",
        share_percent=10,
        days=7,
        newcomer_days=3,
        daily_cap=10,
        wallet_currency="RUB",
    )
    referrer = await registered(billing)
    await paid(billing, referrer, days)
    before = (await billing.subscription(referrer)).period_end
    newcomer = await registered(billing, came_by=referrer)
    order = await paid(billing, newcomer, days)
    assert (await billing.subscription(referrer)).period_end == before + timedelta(days=7)
    newcomers = await billing.subscription(newcomer)
    assert newcomers.period_end - newcomers.period_start == timedelta(days=3)  # its bonus
    [rewarded] = await rewards(billing, referrer)
    assert (rewarded["kind"], rewarded["days"]) == ("days", 7)

    await billing.refund(order)
    assert await billing.worker().step() == 1
    [refunded] = await billing.events(str(order.order_id), "billing.payment.refunded.v1")
    await billing.consume(PaymentRefunded.model_validate(refunded), Referrals(days).refunded)
    assert (await billing.subscription(referrer)).period_end == before
    taken = await billing.events(
        str((await billing.subscription(referrer)).subscription_id),
        "billing.subscription.shortened.v1",
    )
    assert taken[-1]["previous_period_end"] == (before + timedelta(days=7)).isoformat().replace(
        "+00:00", "Z"
    )


async def test_a_share_already_spent_is_taken_back_as_far_as_the_wallet_holds(
    billing: Billing,
) -> None:
    referrer = await registered(billing)
    newcomer = await registered(billing, came_by=referrer)
    order = await paid(billing, newcomer)
    # The referrer spends most of it: a top-up of 300 and a plan of 199 from the wallet.
    await billing.buy(customer=referrer, topup=True)
    await billing.buy(customer=referrer, provider="wallet")
    held = await billing.balance(entries.wallet(referrer, "RUB"))
    await billing.refund(order)
    assert await billing.worker().step() == 1
    [refunded] = await billing.events(str(order.order_id), "billing.payment.refunded.v1")
    await billing.consume(PaymentRefunded.model_validate(refunded), Referrals(SHARE).refunded)
    assert await billing.balance(entries.wallet(referrer, "RUB")) == max(held - M1_PRICE // 10, 0)
