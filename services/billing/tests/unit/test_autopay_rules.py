"""Autopay's rules: the schedule, declines, what a renewal may charge, and charge keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from billing.domain.autopay import (
    OffReason,
    Schedule,
    Tell,
    after_decline,
    charge_key,
    renewal_price,
)
from contracts.money import Money

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
SCHEDULE = Schedule(
    charge_before=timedelta(days=1),
    notice_before=timedelta(days=3),
    retry_delays=(timedelta(hours=6), timedelta(hours=12)),
)
RUB = Money(amount_minor=19900, currency="RUB")


def test_the_charge_comes_before_the_end_and_never_in_the_past() -> None:
    end = NOW + timedelta(days=30)
    assert SCHEDULE.charge_at(end, NOW) == end - timedelta(days=1)
    assert SCHEDULE.charge_at(NOW + timedelta(hours=2), NOW) == NOW


def test_the_reminder_is_skipped_once_its_moment_has_passed() -> None:
    end = NOW + timedelta(days=30)
    assert SCHEDULE.notice_at(end, NOW) == end - timedelta(days=3)
    assert SCHEDULE.notice_at(NOW + timedelta(days=2), NOW) is None


def test_a_schedule_reminds_before_it_charges() -> None:
    with pytest.raises(ValueError, match="reminder"):
        Schedule(timedelta(days=2), timedelta(days=1), ())
    with pytest.raises(ValueError, match="before"):
        Schedule(timedelta(0), timedelta(days=1), ())


def test_declines_are_retried_in_turn_and_told_at_the_first() -> None:
    first = after_decline(0, "insufficient_funds", SCHEDULE, NOW)
    assert first == after_decline(0, "insufficient_funds", SCHEDULE, NOW)
    assert (first.declines, first.stop, first.tell, first.retries_left) == (
        1,
        None,
        Tell.CHARGE_FAILED,
        2,
    )
    assert first.retry_at == NOW + timedelta(hours=6)
    second = after_decline(1, "insufficient_funds", SCHEDULE, NOW)
    assert (second.retry_at, second.tell, second.retries_left) == (
        NOW + timedelta(hours=12),
        None,
        1,
    )
    last = after_decline(2, "general_decline", SCHEDULE, NOW)
    assert (last.stop, last.retry_at, last.tell) == (OffReason.CHARGES_FAILED, None, None)


def test_without_retries_the_first_decline_is_told_and_stops() -> None:
    once = Schedule(timedelta(days=1), timedelta(days=3), ())
    decline = after_decline(0, "insufficient_funds", once, NOW)
    assert (decline.stop, decline.tell, decline.retries_left) == (
        OffReason.CHARGES_FAILED,
        Tell.CHARGE_FAILED,
        0,
    )


@pytest.mark.parametrize(
    ("reason", "stop"),
    [
        ("permission_revoked", OffReason.PERMISSION_REVOKED),
        ("card_expired", OffReason.METHOD_UNUSABLE),
        ("payment_method_restricted", OffReason.METHOD_UNUSABLE),
    ],
)
def test_a_dead_method_stops_autopay_without_retrying(reason: str, stop: OffReason) -> None:
    decline = after_decline(0, reason, SCHEDULE, NOW)
    assert (decline.stop, decline.retry_at, decline.tell) == (stop, None, Tell.STOPPED)


def test_a_renewal_charges_the_price_now_but_never_more_than_agreed() -> None:
    cheaper = Money(amount_minor=14900, currency="RUB")
    assert renewal_price(RUB, cheaper, plan_active=True) == cheaper
    assert renewal_price(RUB, RUB, plan_active=True) == RUB
    dearer = Money(amount_minor=24900, currency="RUB")
    assert renewal_price(RUB, dearer, plan_active=True) is OffReason.PRICE_RAISED
    assert renewal_price(RUB, RUB, plan_active=False) is OffReason.PLAN_UNAVAILABLE
    assert renewal_price(RUB, None, plan_active=True) is OffReason.PLAN_UNAVAILABLE


def test_a_charge_key_is_one_per_period_and_try() -> None:
    subscription = uuid.uuid4()
    end = NOW + timedelta(days=30)
    key = charge_key(subscription, end, 0)
    assert key == charge_key(subscription, end, 0)
    assert len({key, charge_key(subscription, end, 1), charge_key(subscription, NOW, 0)}) == 3
    assert len(str(key)) <= 64  # YooKassa's limit for an Idempotence-Key
