"""Customer segments on a real PostgreSQL, on a clock the test moves: a buyer is active,
then expiring, expired and churned, then only expired; a trial is trial_only until the
first payment; a top-up is no payment for a plan; a language change, a region from
provisioning and a refund are reflected at once. Exactly one CustomerSegmentsChanged per
change, however many workers race."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from billing.customers import record_customer, record_language
from billing.domain.segments import SegmentTerms
from billing.domain.trials import TrialTerms
from billing.models import CustomerSegments
from billing.segments import SETTLE
from billing.segments_worker import SegmentsWorker
from billing.subscriptions import record_regions
from billing.trials import Trials
from chassis.db import transaction
from contracts.bot import CustomerLanguageChanged, CustomerRegistered, TrialRequested
from contracts.provisioning import AccessGranted

from .conftest import Billing
from .test_lifecycle import Clock

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CHANGED = "billing.customer.segments_changed.v1"


def worker(billing: Billing, clock: Clock, *, batch_size: int = 500) -> SegmentsWorker:
    """The worker on a clock a minute ahead: a change marked now is due after it settles
    (``billing.segments.SETTLE``), which the tests do not wait for."""
    clock.move_to(datetime.now(UTC) + timedelta(minutes=1))
    return SegmentsWorker(
        billing.sessions, billing.outbox, clock.clock, SegmentTerms(), batch_size=batch_size
    )


async def register(billing: Billing, language: str = "ru") -> uuid.UUID:
    customer = uuid.uuid4()
    event = CustomerRegistered(
        customer_id=customer,
        telegram_user_id=customer.int % 10**12 + 1,
        chat_id=customer.int % 10**12 + 1,
        language=language,
        registered_at=datetime.now(UTC),
    )
    await billing.consume(event, record_customer)
    return customer


async def published(billing: Billing, customer: uuid.UUID) -> list[tuple[str, ...]]:
    return [tuple(e["segments"]) for e in await billing.events(str(customer), CHANGED)]


async def granted(billing: Billing, customer: uuid.UUID, region: str) -> None:
    subscription = await billing.subscription(customer)
    event = AccessGranted(
        subscription_id=subscription.subscription_id,
        customer_id=customer,
        region=region,
        panel_id=f"{region}-1",
        panel_username=f"u{customer.hex[:12]}",
        subscription_url="https://panel.example/sub/token",
        expires_at=subscription.access_until,
        traffic_limit_bytes=0,
        paid_until=subscription.period_end,
    )
    await billing.consume(event, lambda event, ctx: record_regions([(event, ctx)]))


async def test_a_buyer_is_active_then_expiring_then_expired_and_churned_for_30_days(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    segments = worker(billing, clock)
    customer = await register(billing)
    assert await segments.step() == 1
    order = await billing.with_grace(48).buy(customer=customer)
    assert await segments.step() == 1
    assert await segments.step() == 0  # nothing due until the expiring window
    end = (await billing.subscription(customer)).period_end

    clock.move_to(end - timedelta(hours=72) + timedelta(seconds=1))
    assert await segments.step() == 1
    clock.move_to(end + timedelta(seconds=1))  # in the grace: expired all the same
    assert await segments.step() == 1
    clock.move_to(end + timedelta(days=30) + timedelta(seconds=1))
    assert await segments.step() == 1
    clock.move_to(end + timedelta(days=400))
    assert await segments.step() == 0  # only a new fact changes them now

    assert await published(billing, customer) == [
        ("never_paid", "language:ru"),
        ("active", "language:ru"),
        ("active", "expiring", "language:ru"),
        ("expired", "churned_30d", "language:ru"),
        ("expired", "language:ru"),
    ]
    last = (await billing.events(str(customer), CHANGED))[-1]
    assert last["customer_id"] == str(customer) == str(order.customer_id)
    assert last["language"] == "ru"
    assert last["region"] is None
    row = await stored(billing, customer)
    assert row.next_change_at is None
    assert row.computed_at is not None
    assert datetime.fromisoformat(last["as_of"]) == row.computed_at


async def test_a_trial_is_trial_only_until_the_first_payment(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    segments = worker(billing, clock)
    customer = await register(billing, "en")
    request = TrialRequested(
        request_id=uuid.uuid4(),
        customer_id=customer,
        telegram_user_id=customer.int % 10**12 + 1,
        requested_at=datetime.now(UTC),
    )
    trials = Trials(TrialTerms(days=3, traffic_limit_bytes=0, per_hour=1000), clock.clock)
    await billing.consume(request, trials.requested)
    assert await segments.step() == 1
    end = (await billing.subscription(customer)).period_end
    clock.move_to(end + timedelta(seconds=1))
    assert await segments.step() == 1
    assert await segments.step() == 0  # never paid: no churn window to leave

    await billing.buy(customer=customer)  # continues from the trial's end
    assert await segments.step() == 1
    assert await published(billing, customer) == [
        # A three-day trial ends within the expiring window from its start.
        ("active", "expiring", "trial_only", "never_paid", "language:en"),
        ("expired", "trial_only", "never_paid", "language:en"),
        ("active", "language:en"),
    ]


async def test_a_top_up_is_no_payment_for_a_plan(billing: Billing, tmp_path: Path) -> None:
    segments = worker(billing, Clock(tmp_path / "clock"))
    customer = await register(billing)
    assert await segments.step() == 1
    await billing.buy(topup=True, customer=customer)
    assert await segments.step() == 0
    assert await published(billing, customer) == [("never_paid", "language:ru")]


async def test_a_language_change_and_the_region_of_access_are_published_once_each(
    billing: Billing, tmp_path: Path
) -> None:
    segments = worker(billing, Clock(tmp_path / "clock"))
    customer = await register(billing)
    await billing.buy(customer=customer)
    assert await segments.step() == 1

    changed = CustomerLanguageChanged(
        customer_id=customer, language="en", changed_at=datetime.now(UTC)
    )
    await billing.consume(changed, record_language)
    assert await segments.step() == 1
    await billing.consume(changed, record_language)  # the same language again
    assert await segments.step() == 1  # computed again, found unchanged: not published

    await granted(billing, customer, "nl")
    assert await segments.step() == 1
    assert (await billing.subscription(customer)).region == "nl"
    await granted(billing, customer, "nl")  # every renewal grants again: nothing moved
    assert await segments.step() == 0
    await granted(billing, customer, "de-fra")
    assert await segments.step() == 1

    assert await published(billing, customer) == [
        ("active", "language:ru"),
        ("active", "language:en"),
        ("active", "language:en", "region:nl"),
        ("active", "language:en", "region:de-fra"),
    ]
    last = (await billing.events(str(customer), CHANGED))[-1]
    assert (last["language"], last["region"]) == ("en", "de-fra")


async def test_a_refund_that_ends_access_churns_the_payer_at_once(
    billing: Billing, tmp_path: Path
) -> None:
    segments = worker(billing, Clock(tmp_path / "clock"))
    customer = await register(billing)
    order = await billing.buy(customer=customer)
    assert await segments.step() == 1
    await billing.refund(order)
    assert await billing.worker().step() == 1
    assert await segments.step() == 1
    assert await published(billing, customer) == [
        ("active", "language:ru"),
        # A refunded payment was still made: a churned payer, not one who never paid.
        ("expired", "churned_30d", "language:ru"),
    ]


async def test_a_change_committed_while_a_worker_holds_the_customer_is_computed_after_it(
    billing: Billing, tmp_path: Path
) -> None:
    segments = worker(billing, Clock(tmp_path / "clock"))
    customer = await register(billing)
    assert await segments.step() == 1
    changed = CustomerLanguageChanged(
        customer_id=customer, language="en", changed_at=datetime.now(UTC)
    )
    async with transaction(billing.sessions) as holding:
        # A worker's claim: the row is held while it computes from the facts before.
        await holding.execute(
            text("SELECT 1 FROM customer_segments WHERE customer_id = :id FOR UPDATE"),
            {"id": customer},
        )
        change = asyncio.create_task(billing.consume(changed, record_language))
        await asyncio.sleep(0.2)
        assert not change.done()  # the mark waits for the row
        await holding.execute(
            text("UPDATE customer_segments SET next_change_at = NULL WHERE customer_id = :id"),
            {"id": customer},
        )
    await change
    assert await segments.step() == 1
    assert await published(billing, customer) == [
        ("never_paid", "language:ru"),
        ("never_paid", "language:en"),
    ]


async def test_workers_racing_publish_each_change_once(billing: Billing, tmp_path: Path) -> None:
    clock = Clock(tmp_path / "clock")
    customers = [await register(billing) for _ in range(40)]
    for customer in customers[:10]:
        await billing.buy(customer=customer)
    racing = [worker(billing, clock, batch_size=3) for _ in range(4)]

    async def drain(one: SegmentsWorker) -> int:
        done = 0
        while found := await one.step():
            done += found
        return done

    assert sum(await asyncio.gather(*(drain(one) for one in racing))) == 40
    end = max([(await billing.subscription(c)).period_end for c in customers[:10]])
    clock.move_to(end + timedelta(seconds=1))  # the payers' ends: one change more each
    assert sum(await asyncio.gather(*(drain(one) for one in racing))) == 10

    events: list[dict[str, Any]] = []
    for customer in customers:
        events.extend(await billing.events(str(customer), CHANGED))
    per_customer = [e["customer_id"] for e in events]
    assert sorted(per_customer.count(str(c)) for c in customers) == [1] * 30 + [2] * 10
    for customer in customers[:10]:
        assert await published(billing, customer) == [
            ("active", "language:ru"),
            ("expired", "churned_30d", "language:ru"),
        ]


async def stored(billing: Billing, customer: uuid.UUID) -> CustomerSegments:
    async with billing.sessions() as session:
        row = await session.scalar(
            select(CustomerSegments).where(CustomerSegments.customer_id == customer)
        )
    assert row is not None
    return row


async def test_a_purchase_and_its_region_a_moment_later_are_published_once(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    segments = worker(billing, clock)
    customer = await register(billing)
    assert await segments.step() == 1
    await billing.buy(customer=customer)
    # Marked due after it settles: the region's grant, a moment later, waits with it.
    async with billing.sessions() as session:
        due = await session.scalar(
            select(CustomerSegments.next_change_at).where(CustomerSegments.customer_id == customer)
        )
    assert due is not None
    assert due > datetime.now(UTC) + SETTLE - timedelta(seconds=5)
    await granted(billing, customer, "eu")
    assert await segments.step() == 1
    changes = await published(billing, customer)
    assert len(changes) == 2  # registered, then paid with its region: one event
    assert "active" in changes[1]
    assert "region:eu" in changes[1]
