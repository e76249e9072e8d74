"""A subscription's due times on a real PostgreSQL, on a clock the test moves: 72 h and
24 h before the end and at it, the suspension after the grace and the removal after the
retention, once each; none for an end that has since moved; a payment at any stage makes
it active again; none to renew by hand when autopay will."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from billing.domain.lifecycle import Terms
from billing.lifecycle import Lifecycle
from billing.models import Autopay, timers
from chassis.clock import OffsetClock
from chassis.db import transaction
from chassis.timers import TimerWorker
from chassis.worker import RetryPolicy

from .conftest import Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


class Clock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = OffsetClock(path, reread_every_s=0)

    def move_to(self, when: Any) -> None:
        OffsetClock.move(self.path, when - self.clock.now())


TERMS = Terms(retention=timedelta(days=30))


def worker(billing: Billing, clock: Clock, terms: Terms = TERMS) -> TimerWorker:
    return TimerWorker(
        "billing",
        billing.sessions,
        billing.outbox,
        clock.clock,
        Lifecycle(terms).handlers,
        retry=RetryPolicy(1, 1),
    )


async def reminders(billing: Billing, customer: uuid.UUID) -> list[dict[str, Any]]:
    sent = await billing.events(str(customer), "notifier.notification.requested.v1")
    return [e for e in sent if e["template"].startswith("subscription.")]


async def test_a_subscription_walks_through_reminders_grace_suspension_and_removal_once(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    order = await billing.with_grace(48).buy()
    subscription = await billing.subscription(order.customer_id)
    end = subscription.period_end
    assert subscription.access_until == end + timedelta(hours=48)
    (activated,) = await billing.events(
        str(subscription.subscription_id), "billing.subscription.activated.v1"
    )
    assert activated["access_until"] == subscription.access_until.isoformat().replace("+00:00", "Z")
    due = worker(billing, clock)

    await due.step()
    assert await reminders(billing, order.customer_id) == []
    clock.move_to(end - timedelta(hours=72) + timedelta(seconds=1))
    await due.step()
    await due.step()
    (first,) = await reminders(billing, order.customer_id)
    assert first["template"] == "subscription.expiring"
    assert first["params"] == {
        "expires_at": end.isoformat(),
        "access_until_at": (end + timedelta(hours=48)).isoformat(),
        "renew_plan_id": "m1",
        "hours": 72,
    }
    clock.move_to(end - timedelta(hours=24) + timedelta(seconds=1))
    await due.step()
    clock.move_to(end + timedelta(seconds=1))
    await due.step()
    assert (await billing.subscription(order.customer_id)).stage == "active"  # in the grace
    clock.move_to(end + timedelta(hours=48, seconds=1))
    await due.step()
    await due.step()
    sent = await reminders(billing, order.customer_id)
    assert [(e["template"], e["params"].get("hours")) for e in sent] == [
        ("subscription.expiring", 72),
        ("subscription.expiring", 24),
        ("subscription.expired", None),
        ("subscription.suspended", None),
    ]
    suspended = await billing.subscription(order.customer_id)
    assert (suspended.stage, suspended.revision) == ("suspended", subscription.revision + 1)
    key = str(subscription.subscription_id)
    (event,) = await billing.events(key, "billing.subscription.suspended.v1")
    assert event["revision"] == suspended.revision

    clock.move_to(end + timedelta(hours=48, days=30, seconds=2))
    await due.step()
    await due.step()
    removed = await billing.subscription(order.customer_id)
    assert (removed.stage, removed.revision) == ("removed", suspended.revision + 1)
    (gone,) = await billing.events(key, "billing.subscription.removed.v1")
    assert gone["revision"] == removed.revision
    assert len(await reminders(billing, order.customer_id)) == 4  # removal tells nobody


async def test_without_a_grace_the_end_is_the_suspension_with_one_message(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    order = await billing.buy()  # grace 0
    end = (await billing.subscription(order.customer_id)).period_end
    clock.move_to(end + timedelta(seconds=1))
    await worker(billing, clock).step()
    sent = await reminders(billing, order.customer_id)
    assert [e["template"] for e in sent] == ["subscription.suspended"]  # not "ended" too
    assert (await billing.subscription(order.customer_id)).stage == "suspended"


async def test_paid_in_the_grace_it_continues_from_the_end_and_is_never_suspended(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    graced = billing.with_grace(48)
    order = await graced.buy()
    first = await billing.subscription(order.customer_id)
    clock.move_to(first.period_end + timedelta(hours=1))
    await worker(billing, clock).step()  # "ended", served until the grace's end
    # Paid within the grace: continues from the end (the provider's time here is real,
    # before the end; the rule is the same for any moment before the grace's end).
    await graced.buy(customer=order.customer_id)
    renewed = await billing.subscription(order.customer_id)
    assert renewed.period_end == first.period_end + timedelta(days=30)
    assert renewed.stage == "active"
    clock.move_to(first.access_until + timedelta(seconds=1))
    await worker(billing, clock).step()
    assert (await billing.subscription(order.customer_id)).stage == "active"
    key = str(first.subscription_id)
    assert await billing.events(key, "billing.subscription.suspended.v1") == []


async def test_paid_after_the_suspension_it_is_active_again_and_never_removed(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    terms = Terms(retention=timedelta(days=1))
    order = await billing.buy()
    first = await billing.subscription(order.customer_id)
    clock.move_to(first.period_end + timedelta(seconds=1))
    await worker(billing, clock, terms).step()
    suspended = await billing.subscription(order.customer_id)
    assert suspended.stage == "suspended"
    await billing.buy(customer=order.customer_id)
    back = await billing.subscription(order.customer_id)
    assert (back.stage, back.revision) == ("active", suspended.revision + 1)
    (extended,) = await billing.events(
        str(first.subscription_id), "billing.subscription.extended.v1"
    )
    assert extended["revision"] == back.revision
    clock.move_to(first.period_end + timedelta(days=1, seconds=2))  # past the retention
    await worker(billing, clock, terms).step()
    assert (await billing.subscription(order.customer_id)).stage == "active"
    assert await billing.events(str(first.subscription_id), "billing.subscription.removed.v1") == []


async def test_a_renewed_subscription_is_reminded_of_its_new_end_only(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    order = await billing.buy()
    first_end = (await billing.subscription(order.customer_id)).period_end
    await billing.buy(customer=order.customer_id)  # renewed by hand
    new_end = (await billing.subscription(order.customer_id)).period_end
    assert new_end == first_end + timedelta(days=30)

    clock.move_to(first_end + timedelta(seconds=1))
    await worker(billing, clock).step()
    assert await reminders(billing, order.customer_id) == []  # the old end's: nothing
    clock.move_to(new_end - timedelta(hours=24) + timedelta(seconds=1))
    await worker(billing, clock).step()
    sent = await reminders(billing, order.customer_id)
    # Both of the new end's reminders were due; the nearer one speaks for both.
    assert [e["params"]["hours"] for e in sent] == [24]
    assert {e["params"]["expires_at"] for e in sent} == {new_end.isoformat()}
    async with billing.sessions() as session:
        scheduled = await session.scalar(
            select(timers.c.timer_id).where(timers.c.timer_id.like(f"%{new_end.isoformat()}"))
        )
    assert scheduled is not None


async def test_autopay_customers_are_not_told_to_renew_by_hand(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    order = await billing.buy()
    subscription = await billing.subscription(order.customer_id)
    async with transaction(billing.sessions) as session:
        session.add(
            Autopay(
                customer_id=order.customer_id,
                subscription_id=subscription.subscription_id,
                provider="yookassa",
                method_id="pm",
                plan_id="m1",
                amount_minor=order.amount_minor,
                currency="RUB",
                period_days=30,
                language="ru",
                enabled=True,
                revision=1,
                period_end=subscription.period_end,
                declines=0,
                unavailable_attempts=0,
            )
        )
    clock.move_to(subscription.period_end - timedelta(hours=24) + timedelta(seconds=1))
    await worker(billing, clock).step()
    assert await reminders(billing, order.customer_id) == []
    async with transaction(billing.sessions) as session:
        await session.execute(
            update(Autopay).where(Autopay.customer_id == order.customer_id).values(enabled=False)
        )


async def test_a_late_reminder_tells_the_hours_actually_left_and_an_overtaken_one_is_dropped(
    billing: Billing, tmp_path: Path
) -> None:
    """Billing was down past the 72-hour mark: the reminder says what is left; down past
    the 24-hour mark too, only the nearer one speaks."""
    clock = Clock(tmp_path / "clock")
    order = await billing.buy()
    end = (await billing.subscription(order.customer_id)).period_end
    clock.move_to(end - timedelta(hours=30))
    await worker(billing, clock).step()
    (late,) = await reminders(billing, order.customer_id)
    assert late["params"]["hours"] == 30

    other = await billing.buy()
    other_end = (await billing.subscription(other.customer_id)).period_end
    clock.move_to(other_end - timedelta(hours=10))
    await worker(billing, clock).step()
    (only,) = await reminders(billing, other.customer_id)
    assert only["params"]["hours"] == 10
    assert only["notification_id"] != late["notification_id"]


async def test_a_refund_that_ends_access_suspends_at_once_without_a_message(
    billing: Billing, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    order = await billing.with_grace(48).buy()
    await billing.refund(order)
    assert await billing.worker().step() == 1
    subscription = await billing.subscription(order.customer_id)
    assert subscription.access_until == subscription.period_end  # no grace after a refund
    (shortened,) = await billing.events(
        str(subscription.subscription_id), "billing.subscription.shortened.v1"
    )
    assert shortened["ended"] is True
    assert shortened["access_until"] == shortened["period_end"]
    clock.move_to(subscription.period_end + timedelta(seconds=1))
    await worker(billing, clock).step()
    assert (await billing.subscription(order.customer_id)).stage == "suspended"
    (suspended,) = await billing.events(
        str(subscription.subscription_id), "billing.subscription.suspended.v1"
    )
    assert suspended["period_end"] == shortened["period_end"]
    assert await reminders(billing, order.customer_id) == []  # the refund was the message
