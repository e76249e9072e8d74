"""The free trial on a real PostgreSQL: started for a newcomer (an order of nothing paid,
three days, no grace), once per Telegram account, never for a payer, at most so many an
hour for everyone; its end is an offer; the first payment counts it converted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from billing.domain.trials import TrialTerms
from billing.models import Trial
from billing.trials import Trials
from contracts.bot import TrialRequested

from .conftest import Billing
from .test_lifecycle import Clock, worker

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GIB = 1024**3
TERMS = TrialTerms(days=3, traffic_limit_bytes=5 * GIB, per_hour=1000)


async def ask(
    billing: Billing,
    customer: uuid.UUID,
    telegram_user_id: int,
    terms: TrialTerms = TERMS,
) -> dict[str, Any]:
    """The bot's request through the consumer; billing's decision."""
    request = TrialRequested(
        request_id=uuid.uuid4(),
        customer_id=customer,
        telegram_user_id=telegram_user_id,
        requested_at=datetime.now(UTC),
    )
    await billing.consume(request, Trials(terms).requested)
    decided = [
        e
        for e in await billing.events(str(customer), "billing.trial.decided.v1")
        if e["request_id"] == str(request.request_id)
    ]
    return decided[-1]


def telegram_id() -> int:
    return uuid.uuid4().int % 10**12 + 1


async def told(billing: Billing, customer: uuid.UUID) -> list[dict[str, Any]]:
    sent = await billing.events(str(customer), "notifier.notification.requested.v1")
    return [e for e in sent if e["template"].startswith("trial.")]


async def test_a_newcomer_gets_three_days_with_their_traffic_and_no_grace(
    billing: Billing,
) -> None:
    customer = uuid.uuid4()
    decided = await ask(billing, customer, telegram_id())
    assert decided["outcome"] == "started"
    subscription = await billing.subscription(customer)
    assert subscription.plan_id == "trial"
    assert subscription.period_end - subscription.period_start == timedelta(days=3)
    assert subscription.access_until == subscription.period_end
    assert datetime.fromisoformat(decided["period_end"]) == subscription.period_end
    [activated] = await billing.events(
        str(subscription.subscription_id), "billing.subscription.activated.v1"
    )
    assert activated["traffic_limit_bytes"] == 5 * GIB
    assert activated["plan_id"] == "trial"


async def test_once_per_telegram_account_and_never_for_a_payer(billing: Billing) -> None:
    account = telegram_id()
    assert (await ask(billing, uuid.uuid4(), account))["outcome"] == "started"
    # The same account as another customer (the bot's data lost, say): no second trial.
    again = await ask(billing, uuid.uuid4(), account)
    assert (again["outcome"], again["reason_code"]) == ("refused", "trial_used")
    payer = (await billing.buy()).customer_id
    refused = await ask(billing, payer, telegram_id())
    assert refused["reason_code"] == "trial_not_for_payers"
    [message] = await told(billing, payer)
    assert message["template"] == "trial.refused"
    assert message["params"] == {"refusal": "trial_not_for_payers", "catalog_button": 1}


async def test_at_most_so_many_start_in_an_hour_even_asked_at_once(billing: Billing) -> None:
    async with billing.sessions() as session:
        before = await session.scalar(
            select(func.count())
            .select_from(Trial)
            .where(Trial.started_at > datetime.now(UTC) - timedelta(hours=1))
        )
    terms = TrialTerms(days=3, traffic_limit_bytes=0, per_hour=int(before or 0) + 3)
    decisions = await asyncio.gather(
        *(ask(billing, uuid.uuid4(), telegram_id(), terms) for _ in range(8))
    )
    outcomes = sorted(d["reason_code"] or d["outcome"] for d in decisions)
    assert outcomes == ["started"] * 3 + ["trial_busy"] * 5


async def test_the_end_of_a_trial_is_an_offer_and_paying_converts_it(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    customer = uuid.uuid4()
    await ask(billing, customer, telegram_id())
    end = (await billing.subscription(customer)).period_end
    due = worker(billing, clock)
    # 72 hours before a three-day trial's end is its start: that reminder is not sent.
    clock.move_to(end - timedelta(hours=72) + timedelta(seconds=1))
    await due.step()
    clock.move_to(end - timedelta(hours=24) + timedelta(seconds=1))
    await due.step()
    clock.move_to(end + timedelta(seconds=1))
    await due.step()
    sent = await told(billing, customer)
    assert [(e["template"], e["params"].get("hours")) for e in sent] == [
        ("trial.expiring", 24),
        ("trial.ended", None),
    ]
    assert all(e["params"]["catalog_button"] == 1 for e in sent)
    assert all("renew_plan_id" not in e["params"] for e in sent)
    assert (await billing.subscription(customer)).stage == "suspended"

    order = await billing.buy(customer=customer)
    async with billing.sessions() as session:
        trial = await session.get(Trial, customer)
    assert trial is not None
    assert (trial.converted_order_id, trial.converted_at) == (order.order_id, order.paid_at)
    renewed = await billing.subscription(customer)
    assert (renewed.plan_id, renewed.stage) == ("m1", "active")
