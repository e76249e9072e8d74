from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.periods import next_period

PAID_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
moments = st.datetimes(
    # hypothesis wants naive bounds and attaches the zone itself
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def test_a_first_order_starts_at_payment() -> None:
    period = next_period(None, PAID_AT, 30)
    assert (period.start, period.end, period.previous_end) == (
        PAID_AT,
        PAID_AT + timedelta(days=30),
        None,
    )
    assert not period.is_extension


def test_paying_early_continues_from_the_current_end() -> None:
    current_end = PAID_AT + timedelta(days=10)
    period = next_period(current_end, PAID_AT, 30)
    assert period.start == current_end
    assert period.end == current_end + timedelta(days=30)
    assert period.previous_end == current_end


def test_after_a_lapse_the_gap_is_not_charged() -> None:
    lapsed_at = PAID_AT - timedelta(days=5)
    period = next_period(lapsed_at, PAID_AT, 30)
    assert period.start == PAID_AT
    assert period.previous_end == lapsed_at


def test_a_plan_lasts_at_least_a_day() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        next_period(None, PAID_AT, 0)


@given(current_end=st.none() | moments, paid_at=moments, days=st.integers(1, 3650))
def test_every_order_buys_exactly_its_days_and_never_starts_before_payment(
    current_end: datetime | None, paid_at: datetime, days: int
) -> None:
    period = next_period(current_end, paid_at, days)
    assert period.end - period.start == timedelta(days=days)
    assert period.start >= paid_at
    if current_end is not None:
        assert period.start >= current_end
