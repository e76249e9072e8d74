from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.money import CurrencyMismatchError, Money, minor_unit_exponent


def rub(kopecks: int) -> Money:
    return Money(amount_minor=kopecks, currency="RUB")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (rub(19900), "199.00 RUB"),
        (rub(5), "0.05 RUB"),
        (rub(0), "0.00 RUB"),
        (Money(amount_minor=123456, currency="USD"), "1234.56 USD"),
        (Money(amount_minor=99, currency="EUR"), "0.99 EUR"),
        (Money(amount_minor=250, currency="XTR"), "250 XTR"),
        (Money(amount_minor=1001, currency="CHF"), "10.01 CHF"),
    ],
)
def test_str_uses_the_minor_unit_exponent(money: Money, text: str) -> None:
    assert str(money) == text


@pytest.mark.parametrize(
    "fields",
    [
        {"amount_minor": -1, "currency": "RUB"},
        {"amount_minor": 199.0, "currency": "RUB"},
        {"amount_minor": "19900", "currency": "RUB"},
        {"amount_minor": True, "currency": "RUB"},
        {"amount_minor": 100, "currency": "rub"},
        {"amount_minor": 100, "currency": "RUBL"},
        {"amount_minor": 100, "currency": "₽"},
        {"amount_minor": 100},
    ],
)
def test_invalid_money_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate(fields)


def test_json_float_is_refused() -> None:
    with pytest.raises(ValidationError):
        Money.model_validate_json('{"amount_minor": 19900.0, "currency": "RUB"}')


def test_json_shape() -> None:
    assert rub(19900).model_dump_json() == '{"amount_minor":19900,"currency":"RUB"}'


def test_add_same_currency() -> None:
    assert rub(19900) + rub(100) == rub(20000)


def test_add_different_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError, match="cannot add USD to RUB"):
        rub(1) + Money(amount_minor=1, currency="USD")


def test_zero() -> None:
    assert Money.zero("EUR") == Money(amount_minor=0, currency="EUR")


def test_money_is_frozen_and_hashable() -> None:
    with pytest.raises(ValidationError):
        rub(1).amount_minor = 2  # type: ignore[misc]
    assert len({rub(1), rub(1), rub(2)}) == 2


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("299.00", "RUB", 29900),
        ("299", "RUB", 29900),
        ("0.5", "USD", 50),
        (Decimal("10.01"), "EUR", 1001),
        ("250", "XTR", 250),
    ],
)
def test_from_decimal(value: str | Decimal, currency: str, minor: int) -> None:
    assert Money.from_decimal(value, currency) == Money(amount_minor=minor, currency=currency)


@pytest.mark.parametrize("value", ["299.001", "1.5e-3", "abc", "NaN", "Infinity", "-1.00"])
def test_from_decimal_refuses(value: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (several messages; the type is the contract)
        Money.from_decimal(value, "RUB")


def test_from_decimal_refuses_floats() -> None:
    with pytest.raises(TypeError, match="Decimal or a decimal string"):
        Money.from_decimal(299.0, "RUB")  # type: ignore[arg-type]


def test_to_decimal_keeps_the_exponent() -> None:
    assert str(rub(29900).to_decimal()) == "299.00"
    assert str(Money(amount_minor=7, currency="XTR").to_decimal()) == "7"


def test_exponents() -> None:
    assert [minor_unit_exponent(c) for c in ("RUB", "USD", "EUR", "XTR", "GBP")] == [2, 2, 2, 0, 2]


@given(
    st.integers(min_value=0, max_value=10**15),
    st.sampled_from(["RUB", "USD", "EUR", "XTR", "KZT"]),
)
def test_decimal_round_trip(amount: int, currency: str) -> None:
    money = Money(amount_minor=amount, currency=currency)
    assert Money.from_decimal(money.to_decimal(), currency) == money
    assert Money.from_decimal(str(money).split(" ")[0], currency) == money
