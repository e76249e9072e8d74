"""Amounts as YooKassa writes them: ``{"value": "299.00", "currency": "RUB"}``, kept in kopecks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

# Every currency YooKassa accepts has two decimal places.
CURRENCIES: Final = frozenset(
    {"RUB", "USD", "EUR", "BYN", "KZT", "UAH", "UZS", "TRY", "INR", "MDL", "AZN", "AMD", "GEL"}
)
_VALUE: Final = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,2}))?")


@dataclass(frozen=True, slots=True)
class Amount:
    minor: int
    currency: str

    @classmethod
    def parse_value(cls, value: str, currency: str) -> Amount | None:
        """``"299"``, ``"299.5"`` and ``"299.00"`` are values; anything else is not."""
        match = _VALUE.fullmatch(value)
        if match is None:
            return None
        whole, fraction = match.groups()
        return cls(int(whole) * 100 + int((fraction or "0").ljust(2, "0")), currency)

    @property
    def value(self) -> str:
        return f"{self.minor // 100}.{self.minor % 100:02d}"

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-2)

    def to_json(self) -> dict[str, str]:
        return {"value": self.value, "currency": self.currency}

    def minus_commission(self, rate: Decimal) -> Amount:
        income = (Decimal(self.minor) * (1 - rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return Amount(int(income), self.currency)

    def with_minor(self, minor: int) -> Amount:
        return Amount(minor, self.currency)


def to_minor(value: Decimal) -> int:
    """Kopecks of a decimal sum, rounded half up as a cash register rounds a line total."""
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
