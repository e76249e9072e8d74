from calendar import monthrange
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.periods import Term, add_months, next_period, on_anchor

PAID_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MONTH = Term(months=1)
moments = st.datetimes(
    # hypothesis wants naive bounds and attaches the zone itself
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
days_terms = st.integers(1, 3650).map(lambda days: Term(days=days))
month_terms = st.integers(1, 36).map(lambda months: Term(months=months))


def test_a_first_order_starts_at_payment() -> None:
    period = next_period(None, PAID_AT, Term(days=30))
    assert (period.start, period.end, period.previous_end) == (
        PAID_AT,
        PAID_AT + timedelta(days=30),
        None,
    )
    assert not period.is_extension


def test_paying_early_continues_from_the_current_end() -> None:
    current_end = PAID_AT + timedelta(days=10)
    period = next_period(current_end, PAID_AT, Term(days=30))
    assert period.start == current_end
    assert period.end == current_end + timedelta(days=30)
    assert period.previous_end == current_end


def test_after_a_lapse_the_gap_is_not_charged() -> None:
    lapsed_at = PAID_AT - timedelta(days=5)
    period = next_period(lapsed_at, PAID_AT, Term(days=30))
    assert period.start == PAID_AT
    assert period.previous_end == lapsed_at


@pytest.mark.parametrize(
    ("days", "months"), [(0, 0), (30, 1), (-1, 0), (0, -1)], ids=["none", "both", "-d", "-m"]
)
def test_a_term_is_days_or_months(days: int, months: int) -> None:
    with pytest.raises(ValueError, match="positive number of days or of months"):
        Term(days=days, months=months)


def test_a_plan_with_months_is_a_month_term() -> None:
    assert Term.of(days=30, months=1) == MONTH
    assert Term.of(days=30, months=0) == Term(days=30)


@pytest.mark.parametrize(
    ("start", "ends"),
    [
        # The month's last day when it is shorter, and back to the anchor after it.
        ("2027-01-31", ["2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"]),
        ("2028-01-31", ["2028-02-29", "2028-03-31"]),  # a leap year
        ("2028-02-29", ["2028-03-29", "2028-04-29"]),
        ("2027-12-15", ["2028-01-15", "2028-02-15"]),  # over the year's end
        ("2027-03-30", ["2027-04-30", "2027-05-30"]),
    ],
)
def test_monthly_renewals_keep_the_anchor_day(start: str, ends: list[str]) -> None:
    begin = datetime.fromisoformat(f"{start}T09:30:00+00:00")
    period = next_period(None, begin, MONTH)
    seen = [period.end]
    for _ in ends[1:]:
        period = next_period(
            period.end, period.end - timedelta(days=1), MONTH, anchor_day=period.anchor_day
        )
        seen.append(period.end)
    assert [end.date().isoformat() for end in seen] == ends
    assert all(end.time() == begin.time() for end in seen)


def test_a_subscription_that_starts_again_is_anchored_on_its_new_start() -> None:
    first = next_period(None, datetime(2027, 1, 31, tzinfo=UTC), MONTH)
    paid_at = datetime(2027, 4, 10, tzinfo=UTC)  # long after it lapsed
    again = next_period(first.end, paid_at, MONTH, anchor_day=first.anchor_day)
    assert (again.start, again.end, again.anchor_day) == (
        paid_at,
        datetime(2027, 5, 10, tzinfo=UTC),
        10,
    )


def test_a_month_after_a_days_plan_is_a_whole_month() -> None:
    """The anchor is the 1st, a week's plan moved the end to the 8th: a month from there."""
    period = next_period(
        datetime(2027, 1, 8, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC), MONTH, anchor_day=1
    )
    assert (period.end, period.anchor_day) == (datetime(2027, 2, 8, tzinfo=UTC), 8)


def test_periods_are_computed_in_utc() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_months(datetime(2027, 1, 1), 1, 1)  # noqa: DTZ001
    moscow = datetime.fromisoformat("2027-02-01T01:00:00+03:00")  # 31 January in UTC
    assert add_months(moscow, 1, 31) == datetime(2027, 2, 28, 22, 0, tzinfo=UTC)


@given(current_end=st.none() | moments, paid_at=moments, term=days_terms)
def test_every_order_buys_exactly_its_days_and_never_starts_before_payment(
    current_end: datetime | None, paid_at: datetime, term: Term
) -> None:
    period = next_period(current_end, paid_at, term)
    assert period.end - period.start == timedelta(days=term.days)
    assert period.start >= paid_at
    if current_end is not None:
        assert period.start >= current_end


@given(start=moments, anchor=st.integers(1, 31), months=st.integers(0, 120))
def test_a_month_later_is_on_the_anchor_or_the_last_day(
    start: datetime, anchor: int, months: int
) -> None:
    end = add_months(start, months, anchor)
    elapsed = (end.year - start.year) * 12 + end.month - start.month
    assert elapsed == months
    assert end.day == min(anchor, monthrange(end.year, end.month)[1])
    assert end.time() == start.time()


@given(start=moments, anchor=st.integers(1, 31), first=st.integers(0, 60), then=st.integers(0, 60))
def test_months_add_up_whatever_the_steps(
    start: datetime, anchor: int, first: int, then: int
) -> None:
    """Renewing month by month ends where one long plan would: no day lost or gained."""
    stepped = add_months(add_months(start, first, anchor), then, anchor)
    assert stepped == add_months(start, first + then, anchor)


@given(
    current_end=st.none() | moments, paid_at=moments, term=month_terms, anchor=st.integers(1, 31)
)
def test_a_month_period_lasts_between_28_and_31_days_a_month(
    current_end: datetime | None, paid_at: datetime, term: Term, anchor: int
) -> None:
    period = next_period(current_end, paid_at, term, anchor_day=anchor)
    assert period.start >= paid_at
    assert period.anchor_day is not None
    length = period.end - period.start
    # A month is 28-31 days; back from a short month onto the anchor adds up to 3 more.
    assert timedelta(days=28 * term.months) <= length <= timedelta(days=31 * term.months + 3)
    if current_end is not None and paid_at < current_end and on_anchor(current_end, anchor):
        assert period.anchor_day == anchor  # it continues on its anchor
