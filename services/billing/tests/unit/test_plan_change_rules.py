from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.domain.plan_changes import MAX_CREDIT, Ahead, Change, change_of, credit, daily
from contracts.money import Money

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
PRO_DAILY = {"RUB": daily(Money(amount_minor=39900, currency="RUB"), 30)}


def rub(amount: int) -> Money:
    return Money(amount_minor=amount, currency="RUB")


def test_a_higher_tier_is_an_upgrade_a_lower_a_downgrade_the_same_a_renewal() -> None:
    assert change_of(0, 1, time_ahead=True) is Change.UPGRADE
    assert change_of(2, 1, time_ahead=True) is Change.DOWNGRADE
    assert change_of(1, 1, time_ahead=True) is Change.RENEWAL
    # Nothing paid ahead (ended, suspended): whatever is bought starts afresh.
    assert change_of(0, 1, time_ahead=False) is Change.RENEWAL
    assert change_of(2, 1, time_ahead=False) is Change.RENEWAL


def test_the_unused_part_is_bought_back_at_the_new_plans_price() -> None:
    # Half of a 199 RUB month left (99.50 RUB) buys 7.48 days of a 399 RUB month.
    month = Ahead(NOW - timedelta(days=15), NOW + timedelta(days=15), rub(19900))
    assert credit([month], NOW, PRO_DAILY) == timedelta(hours=179)
    # A period paid ahead counts whole; one that is over counts nothing.
    later = Ahead(NOW + timedelta(days=15), NOW + timedelta(days=45), rub(19900))
    over = Ahead(NOW - timedelta(days=45), NOW - timedelta(days=15), rub(19900))
    assert credit([month, later, over], NOW, PRO_DAILY) == timedelta(hours=179 + 359)


def test_time_given_free_or_in_another_currency_counts_as_time() -> None:
    free_days = Ahead(NOW, NOW + timedelta(days=7), None)
    stars = Ahead(NOW, NOW + timedelta(days=30), Money(amount_minor=150, currency="XTR"))
    assert credit([free_days, stars], NOW, PRO_DAILY) == timedelta(days=37)


def test_a_refunded_period_is_worth_nothing() -> None:
    refunded = Ahead(NOW, NOW + timedelta(days=30), rub(0))
    assert credit([refunded], NOW, PRO_DAILY) == timedelta(0)


@given(
    paid=st.integers(min_value=0, max_value=10**7),
    days=st.integers(min_value=1, max_value=400),
    used=st.floats(min_value=0, max_value=1),
    new_price=st.integers(min_value=1, max_value=10**7),
    new_days=st.integers(min_value=1, max_value=400),
)
def test_the_credit_is_worth_no_more_than_what_is_left_of_what_was_paid(
    paid: int, days: int, used: float, new_price: int, new_days: int
) -> None:
    start = NOW - timedelta(days=days) * used
    period = Ahead(start, start + timedelta(days=days), rub(paid))
    new_daily = {"RUB": daily(rub(new_price), new_days)}
    credited = credit([period], NOW, new_daily)
    assert credited >= timedelta(0)
    assert credited == timedelta(hours=credited.total_seconds() // 3600)
    left = Decimal(paid) * Decimal(period.unused(NOW).total_seconds()) / Decimal(days * 86_400)
    worth = Decimal(credited.total_seconds()) / 86_400 * new_daily["RUB"]
    assert worth <= left + Decimal("0.0001")
    assert credited <= MAX_CREDIT
    if credited < MAX_CREDIT:
        # Less than an hour of the new plan is lost to the rounding.
        assert left - worth <= new_daily["RUB"] / 24 + Decimal("0.0001")


def test_a_plan_priced_near_nothing_credits_at_most_ten_years() -> None:
    # 95,231 RUB left, bought back at a kopek per 395 days, would be millions of years.
    year = Ahead(NOW, NOW + timedelta(days=397), rub(9523114))
    assert credit([year], NOW, {"RUB": daily(rub(1), 395)}) == MAX_CREDIT
