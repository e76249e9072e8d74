"""Refunds' pure rules: what may be refunded, and the time and credit a refund takes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from types import SimpleNamespace
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain import ledger
from billing.domain import orders as order_rules
from billing.domain.orders import IllegalTransition, OrderKind, OrderStatus
from billing.domain.refunds import (
    Refundable,
    RefundRefused,
    Shortening,
    amount_to_refund,
    check_method,
    credit_taken,
    share,
    shortened,
)
from billing.providers.base import Capabilities
from contracts.money import Money

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def rub(minor: int) -> Money:
    return Money(amount_minor=minor, currency="RUB")


def order(
    *,
    paid: Money | None = None,
    held: int = 0,
    status: OrderStatus = OrderStatus.PAID,
    kind: OrderKind = OrderKind.PLAN,
    provider: str = "yookassa",
) -> Refundable:
    return Refundable(
        status=status, kind=kind, paid=paid or rub(19900), provider=provider, held_minor=held
    )


def refused(code: str) -> pytest.RaisesExc[RefundRefused]:
    return pytest.raises(RefundRefused, check=lambda exc: exc.code == code)


class TestAmountToRefund:
    def test_by_default_everything_left(self) -> None:
        assert amount_to_refund(order(), None) == rub(19900)
        assert amount_to_refund(order(held=9900), None) == rub(10000)

    def test_an_amount_in_the_orders_currency_and_its_decimals(self) -> None:
        assert amount_to_refund(order(), "99.00") == rub(9900)
        assert amount_to_refund(order(), Decimal("0.5")) == rub(50)
        stars = order(paid=Money(amount_minor=150, currency="XTR"))
        assert amount_to_refund(stars, "150") == Money(amount_minor=150, currency="XTR")
        with refused("amount_invalid"):
            amount_to_refund(stars, "149.5")  # Stars are whole
        with refused("amount_invalid"):
            amount_to_refund(order(), "99.001")
        with refused("amount_invalid"):
            amount_to_refund(order(), "ninety")

    @pytest.mark.parametrize("amount", ["0", "0.00", "-1", "NaN", "Infinity"])
    def test_the_amount_is_positive(self, amount: str) -> None:
        with pytest.raises(RefundRefused) as caught:
            amount_to_refund(order(), amount)
        assert caught.value.code in ("amount_not_positive", "amount_invalid")

    def test_with_earlier_refunds_never_more_than_was_paid(self) -> None:
        assert amount_to_refund(order(held=10000), "99.00") == rub(9900)
        with refused("amount_exceeds_paid"):
            amount_to_refund(order(held=10000), "99.01")
        with refused("amount_exceeds_paid"):
            amount_to_refund(order(), "199.01")
        with refused("nothing_left"):
            amount_to_refund(order(held=19900), None)

    @pytest.mark.parametrize(
        ("status", "code"),
        [
            (OrderStatus.PENDING, "order_not_paid"),
            (OrderStatus.CANCELED, "order_not_paid"),
            (OrderStatus.FAILED, "order_not_paid"),
            (OrderStatus.REFUNDED, "order_refunded"),
        ],
    )
    def test_only_a_paid_order(self, status: OrderStatus, code: str) -> None:
        with refused(code):
            amount_to_refund(order(status=status), None)


class TestCheckMethod:
    FULL = Capabilities(currencies=frozenset({"RUB"}))
    WHOLE_ONLY = Capabilities(currencies=frozenset({"XTR"}), partial_refunds=False)
    NONE = Capabilities(currencies=frozenset({"RUB"}), refunds=False, partial_refunds=False)

    def test_a_provider_that_refunds_in_part(self) -> None:
        check_method(order(), rub(100), self.FULL)
        check_method(order(), rub(19900), self.FULL)

    def test_a_provider_that_refunds_only_the_whole_payment(self) -> None:
        stars = order(paid=Money(amount_minor=150, currency="XTR"), provider="telegram_stars")
        check_method(stars, Money(amount_minor=150, currency="XTR"), self.WHOLE_ONLY)
        with refused("partial_not_supported"):
            check_method(stars, Money(amount_minor=100, currency="XTR"), self.WHOLE_ONLY)

    def test_a_provider_that_cannot_refund_or_is_not_running(self) -> None:
        with refused("provider_cannot_refund"):
            check_method(order(provider="cryptopay"), rub(100), self.NONE)
        with refused("provider_not_configured"):
            check_method(order(provider="wata"), rub(100), None)

    def test_the_wallet_needs_no_provider(self) -> None:
        check_method(order(provider="wallet"), rub(100), None)


class TestShortening:
    def test_a_full_refund_of_a_later_period_removes_all_of_it(self) -> None:
        end = NOW + 40 * DAY  # 10 days left of one order, then the refunded 30-day order
        change = cut(end, amount=19900)
        assert change is not None
        assert change.period_end == NOW + 10 * DAY
        assert change.previous_end == end
        assert not change.ended

    def test_a_full_refund_of_the_current_period_ends_access_now(self) -> None:
        change = cut(NOW + 29 * DAY, amount=19900)
        assert change is not None
        assert change.period_end == NOW
        assert change.ended

    def test_a_partial_refund_removes_its_share_of_the_period(self) -> None:
        change = cut(NOW + 30 * DAY, amount=9950)
        assert change is not None
        assert change.period_end == NOW + 15 * DAY

    def test_an_end_already_past_is_left_alone(self) -> None:
        assert cut(NOW - DAY, amount=19900) is None
        assert cut(NOW, amount=19900) is None

    def test_a_refund_too_small_to_remove_a_second_changes_nothing(self) -> None:
        assert cut(NOW + DAY, amount=1, paid=10**8, bought=DAY) is None

    @given(
        parts=st.lists(st.integers(1, 19900), min_size=1, max_size=6),
        days_left=st.integers(31, 400),
    )
    def test_parts_remove_exactly_what_the_whole_does(
        self, parts: list[int], days_left: int
    ) -> None:
        paid = 19900
        amounts = _split(parts, paid)
        end = NOW + days_left * DAY
        before = 0
        for amount in amounts:
            change = cut(end, amount=amount, before=before, paid=paid)
            if change is not None:
                assert change.period_end < end
                end = change.period_end
            before += amount
        assert end == NOW + (days_left - 30) * DAY


def cut(
    end: datetime,
    *,
    amount: int,
    before: int = 0,
    paid: int = 19900,
    bought: timedelta = timedelta(days=30),
) -> Shortening | None:
    return shortened(
        current_end=end,
        now=NOW,
        bought=bought,
        paid_minor=paid,
        before_minor=before,
        amount_minor=amount,
    )


def _split(cuts: list[int], whole: int) -> list[int]:
    """``whole`` in positive parts at the given cut points."""
    points = sorted({c for c in cuts if 0 < c < whole})
    edges = [0, *points, whole]
    return [b - a for a, b in pairwise(edges)]


class TestCredit:
    @given(parts=st.lists(st.integers(1, 37999), max_size=6))
    def test_a_top_ups_credit_comes_back_in_parts_that_add_up(self, parts: list[int]) -> None:
        paid = Money(amount_minor=380, currency="XTR")
        credit = rub(50000)
        amounts = _split([p % 380 for p in parts], 380)
        before, taken = 0, 0
        for amount in amounts:
            part = credit_taken(credit, paid, before, Money(amount_minor=amount, currency="XTR"))
            assert part.currency == "RUB"
            taken += part.amount_minor
            before += amount
        assert taken == credit.amount_minor

    def test_a_share_is_of_what_was_paid(self) -> None:
        assert share(100, 3, 1) == 33
        assert share(100, 3, 3) == 100
        with pytest.raises(ValueError, match="not part"):
            share(100, 3, 4)


class TestOrderRefund:
    def test_parts_then_the_rest_make_the_order_refunded(self) -> None:
        paid = _paid_order()
        assert order_rules.refund(paid, rub(9900)) is False
        assert paid.status == "paid"
        assert paid.refunded_minor == 9900
        assert order_rules.refund(paid, rub(10000)) is True
        assert paid.status == "refunded"

    def test_never_more_than_was_paid_nor_before_it_was_paid(self) -> None:
        paid = _paid_order()
        with pytest.raises(ValueError, match="exceed"):
            order_rules.refund(paid, rub(20000))
        with pytest.raises(ValueError, match="RUB"):
            order_rules.refund(paid, Money(amount_minor=1, currency="XTR"))
        unpaid = _paid_order(status="pending")
        with pytest.raises(IllegalTransition):
            order_rules.refund(unpaid, rub(1))


def _paid_order(status: str = "paid") -> order_rules.OrderLike:
    fake: order_rules.OrderLike = SimpleNamespace(
        order_id=uuid4(), amount_minor=19900, currency="RUB", status=status, refunded_minor=0
    )
    return fake


class TestTopUpRefundEntry:
    CUSTOMER = uuid4()

    def entry(
        self, amount: Money, credit: Money | None = None, written_off: Money | None = None
    ) -> ledger.Entry:
        return ledger.topup_refunded(
            provider="telegram_stars",
            refund_key="r-1",
            order_id=uuid4(),
            customer_id=self.CUSTOMER,
            amount=amount,
            credit=credit,
            written_off=written_off,
        )

    def postings(self, entry: ledger.Entry) -> dict[str, int]:
        return {p.account.account_id: p.amount_minor for p in entry.postings}

    def test_credit_bought_in_another_currency_meets_in_the_exchange(self) -> None:
        entry = self.entry(amount=Money(amount_minor=380, currency="XTR"), credit=rub(50000))
        assert self.postings(entry) == {
            f"wallet:{self.CUSTOMER}:RUB": -50000,
            "exchange:RUB": 50000,
            "exchange:XTR": -380,
            "clearing:telegram_stars:XTR": 380,
        }

    def test_credit_spent_meanwhile_is_written_off_as_given_away(self) -> None:
        entry = self.entry(amount=rub(50000), written_off=rub(20000))
        assert self.postings(entry) == {
            f"wallet:{self.CUSTOMER}:RUB": -30000,
            "bonuses:RUB": -20000,
            "clearing:telegram_stars:RUB": 50000,
        }
        everything = self.entry(amount=rub(50000), written_off=rub(50000))
        assert f"wallet:{self.CUSTOMER}:RUB" not in self.postings(everything)

    def test_no_more_is_written_off_than_the_credit(self) -> None:
        with pytest.raises(ledger.UnbalancedEntry):
            self.entry(amount=rub(500), written_off=rub(501))
