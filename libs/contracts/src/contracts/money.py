"""Money as integer minor units with an ISO 4217 currency code; never a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 alphabetic code, three uppercase letters, e.g. RUB."),
]

MINOR_UNIT_EXPONENTS: Final[dict[str, int]] = {
    "RUB": 2,
    "USD": 2,
    "EUR": 2,
    # Telegram Stars are whole units; Telegram uses the code XTR for them.
    "XTR": 0,
}
DEFAULT_MINOR_UNIT_EXPONENT: Final = 2


class CurrencyMismatchError(ValueError):
    """Arithmetic between amounts in different currencies."""


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 unless known otherwise)."""
    return MINOR_UNIT_EXPONENTS.get(currency, DEFAULT_MINOR_UNIT_EXPONENT)


class Money(BaseModel):
    """An amount of money: integer minor units (kopecks, cents) and a currency code."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    amount_minor: int = Field(
        strict=True,
        ge=0,
        description="Amount in minor units of the currency (kopecks for RUB): 19900 is 199.00 RUB.",
    )
    currency: CurrencyCode

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in ``currency``."""
        return cls(amount_minor=0, currency=currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str, currency: str) -> Money:
        """Parse a major-unit amount such as the provider's ``"299.00"``.

        Raises ``ValueError`` for negative amounts or more precision than the currency has.
        """
        if not isinstance(value, Decimal | str):
            raise TypeError(f"amount must be a Decimal or a decimal string, not {type(value)}")
        try:
            major = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {value!r}") from None
        if not major.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        minor = major.scaleb(minor_unit_exponent(currency))
        if minor != minor.to_integral_value():
            raise ValueError(f"{value!r} has more decimal places than {currency} allows")
        return cls(amount_minor=int(minor), currency=currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, with exactly the currency's number of decimal places."""
        return Decimal(self.amount_minor).scaleb(-minor_unit_exponent(self.currency))

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot add {other.currency} to {self.currency}")
        return Money(amount_minor=self.amount_minor + other.amount_minor, currency=self.currency)

    def __str__(self) -> str:
        exponent = minor_unit_exponent(self.currency)
        if exponent == 0:
            return f"{self.amount_minor} {self.currency}"
        major, minor = divmod(self.amount_minor, 10**exponent)
        return f"{major}.{minor:0{exponent}d} {self.currency}"
