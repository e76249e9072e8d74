from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.promos import Code, Customer, Refusal, refusal
from contracts.billing import PromoOffer
from contracts.money import Money

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
NEWCOMER = Customer(has_paid=False, used_code=False, has_subscription=False)
PAYER = Customer(has_paid=True, used_code=False)
RUB = Money(amount_minor=19900, currency="RUB")


def percent(**limits: object) -> Code:
    return Code(code="SPRING20", kind="percent", percent_off=20, **limits)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "customer", "plan_id", "price", "expected"),
    [
        (None, PAYER, None, None, Refusal.UNKNOWN),
        (percent(valid_from=NOW + timedelta(seconds=1)), PAYER, None, None, Refusal.NOT_STARTED),
        (percent(valid_until=NOW), PAYER, None, None, Refusal.EXPIRED),
        (percent(max_uses=10, uses=10), PAYER, None, None, Refusal.EXHAUSTED),
        (percent(), Customer(has_paid=True, used_code=True), None, None, Refusal.USED),
        (percent(first_purchase_only=True), PAYER, None, None, Refusal.FIRST_PURCHASE_ONLY),
        (percent(plan_ids=("q3",)), PAYER, "m1", None, Refusal.NOT_FOR_PLAN),
        (
            Code(
                code="MINUS100", kind="fixed", amount_off=Money(amount_minor=10000, currency="RUB")
            ),
            PAYER,
            "m1",
            Money(amount_minor=250, currency="XTR"),
            Refusal.CURRENCY,
        ),
        (
            Code(code="WEEK", kind="free_days", free_days=7),
            NEWCOMER,
            None,
            None,
            Refusal.NEEDS_SUBSCRIPTION,
        ),
    ],
    ids=[
        "unknown",
        "not-started",
        "expired",
        "exhausted",
        "used",
        "first",
        "plan",
        "currency",
        "no-sub",
    ],
)
def test_each_limit_refuses_with_its_reason(
    code: Code | None,
    customer: Customer,
    plan_id: str | None,
    price: Money | None,
    expected: Refusal,
) -> None:
    assert refusal(code, customer, now=NOW, plan_id=plan_id, price=price) is expected


def test_within_its_limits_a_code_is_accepted() -> None:
    code = percent(
        max_uses=10,
        uses=9,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=1),
        plan_ids=("m1",),
        first_purchase_only=True,
    )
    assert refusal(code, NEWCOMER, now=NOW, plan_id="m1", price=RUB) is None
    # Reusable: a customer who used it may again; free days with a plan to start one on.
    assert refusal(percent(once_per_customer=False), Customer(True, True), now=NOW) is None
    week = Code(code="WEEK", kind="free_days", free_days=7, plan_ids=("m1",))
    assert refusal(week, NEWCOMER, now=NOW) is None


def test_a_discount_is_rounded_down_and_never_free() -> None:
    twenty = percent().offer
    assert twenty.price(Money(amount_minor=19900, currency="RUB")).amount_minor == 15920
    assert twenty.price(Money(amount_minor=99, currency="XTR")).amount_minor == 80  # 19.8 off: 19
    fixed = PromoOffer(
        code="MINUS500", kind="fixed", amount_off=Money(amount_minor=50000, currency="RUB")
    )
    assert fixed.price(RUB).amount_minor == 1
    assert fixed.price(Money(amount_minor=250, currency="XTR")).amount_minor == 250
    days = PromoOffer(code="WEEK", kind="free_days", free_days=7)
    assert days.price(RUB) == RUB


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "percent"},
        {"kind": "percent", "percent_off": 10, "free_days": 3},
        {"kind": "free_days", "percent_off": 5},
    ],
)
def test_an_offer_gives_exactly_its_own_benefit(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="exactly its own benefit"):
        PromoOffer(code="BAD", **fields)  # type: ignore[arg-type]


@given(amount=st.integers(1, 10**9), off=st.integers(1, 99))
def test_a_percent_never_charges_more_than_shown_or_nothing(amount: int, off: int) -> None:
    price = Money(amount_minor=amount, currency="RUB")
    paid = PromoOffer(code="ANY", kind="percent", percent_off=off).price(price).amount_minor
    assert 1 <= paid <= amount
    assert paid >= amount - amount * off // 100  # the discount is never more than the percent
