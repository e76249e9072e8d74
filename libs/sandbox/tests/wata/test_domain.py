"""The emulator without HTTP: wire format, ids, terminals, commissions and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sandbox.wata import (
    AccessToken,
    ApiError,
    Terminal,
    TransactionStatus,
    WataConfig,
    WataEmulator,
    wire,
)
from sandbox.wata.identifiers import sequential_guid

from .conftest import SHARED_KEY

NOON = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def emulator_at(moment: datetime, **config: object) -> WataEmulator:
    return WataEmulator(
        WataConfig(**config),  # type: ignore[arg-type]
        terminals=[Terminal("MyVpn", ["t", AccessToken("short", moment + timedelta(days=30))])],
        clock=lambda: moment,
        signing_key=SHARED_KEY,
    )


def test_json_keeps_two_decimals_and_unicode() -> None:
    body = {"amount": Decimal("299.00"), "fee": Decimal("8.97"), "text": "месяц", "none": None}

    assert wire.dumps(body) == '{"amount":299.00,"fee":8.97,"text":"месяц","none":null}'.encode()
    assert wire.loads(b'{"amount":299.00}') == {"amount": Decimal("299.00")}
    with pytest.raises(ValueError, match="NaN"):
        wire.loads(b'{"amount":NaN}')


def test_sequential_guids_start_with_dotnet_milliseconds() -> None:
    # The reference's transaction id was made on 2024-12-04 at 17:41:33.744 UTC.
    moment = datetime(2024, 12, 4, 17, 41, 33, 744000, tzinfo=UTC)

    assert sequential_guid(moment).startswith("3a16a4f0-27b0-")


def test_a_terminal_has_one_to_five_tokens_each_its_own() -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        Terminal("None", [])
    with pytest.raises(ValueError, match="1 to 5"):
        Terminal("Many", [f"t{i}" for i in range(6)])
    emulator = emulator_at(NOON)
    with pytest.raises(ApiError) as taken:
        emulator.put_terminal(Terminal("Thief", ["t"]))
    assert taken.value.status == 400


def test_a_token_stops_working_at_its_expiry() -> None:
    emulator = emulator_at(NOON)

    emulator.authenticate("Bearer short")
    emulator.advance_clock(timedelta(days=30))

    with pytest.raises(ApiError) as expired:
        emulator.authenticate("bearer short")
    assert expired.value.status == 401
    assert "02/14/2025 10:00:00" in expired.value.headers["WWW-Authenticate"]
    assert emulator.authenticate("Bearer t").name == "MyVpn"


@pytest.mark.parametrize(
    ("amount", "commission"),
    [("299.00", "8.97"), ("10.00", "0.30"), ("10.50", "0.32"), ("999999.99", "30000.00")],
)
def test_the_commission_is_three_percent_rounded_half_up(amount: str, commission: str) -> None:
    emulator = emulator_at(NOON)
    [terminal] = emulator.terminals()
    link = emulator.create_link(terminal, {"amount": Decimal(amount), "currency": "RUB"})

    paid = emulator.pay(link.id)

    assert paid.status is TransactionStatus.PAID
    assert paid.commission == Decimal(commission)


def test_the_rate_limit_window_is_a_knob() -> None:
    limited = emulator_at(NOON, rate_limit_window=timedelta(seconds=5))
    unlimited = emulator_at(NOON, rate_limit_window=None)
    [terminal] = limited.terminals()
    [other] = unlimited.terminals()

    limited.throttle(terminal, "link", "x")
    with pytest.raises(ApiError) as refused:
        limited.throttle(terminal, "link", "x")
    limited.advance_clock(timedelta(seconds=5))
    limited.throttle(terminal, "link", "x")
    for _ in range(3):
        unlimited.throttle(other, "link", "x")

    assert refused.value.status == 429
    assert refused.value.body() is None


def test_the_clock_only_moves_forward() -> None:
    emulator = emulator_at(NOON)

    with pytest.raises(ApiError):
        emulator.advance_clock(timedelta(seconds=-1))
    assert emulator.now() == NOON
