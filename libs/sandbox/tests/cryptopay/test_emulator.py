"""The emulator without HTTP: an injected clock, expiry on it, updates handed to the sink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sandbox.cryptopay import (
    ApiError,
    App,
    ControlError,
    CryptoPayEmulator,
    Webhook,
    sign,
)

from .conftest import cryptopay_verify

START = datetime(2025, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)


def emulator_at(moment: datetime) -> tuple[CryptoPayEmulator, list[Webhook]]:
    emulator = CryptoPayEmulator(
        apps=[App(1, "Shop", "1:abc", webhook_url="https://shop.example/hook")],
        clock=lambda: moment,
    )
    sent: list[Webhook] = []
    emulator.webhook_sink = sent.append
    return emulator, sent


def test_times_come_from_the_injected_clock_to_the_millisecond() -> None:
    emulator, _ = emulator_at(START)

    invoice = emulator.call(
        "createInvoice", "1:abc", {"asset": "TON", "amount": "1", "expires_in": 3600}
    )

    assert isinstance(invoice, dict)
    assert invoice["created_at"] == "2025-01-15T10:00:00.123Z"
    assert invoice["expiration_date"] == "2025-01-15T11:00:00.123Z"


def test_expiry_follows_the_emulator_clock() -> None:
    emulator, sent = emulator_at(START)
    invoice = emulator.create_invoice(
        emulator.app(1), {"asset": "TON", "amount": "1", "expires_in": 5}
    )

    emulator.advance_clock(timedelta(seconds=5))

    assert invoice.status == "expired"
    assert sent == []
    with pytest.raises(ControlError):
        emulator.advance_clock(timedelta(seconds=-1))


def test_a_payment_hands_one_signed_update_to_the_sink() -> None:
    emulator, sent = emulator_at(START)
    invoice = emulator.create_invoice(emulator.app(1), {"asset": "USDT", "amount": "10"})

    emulator.pay(invoice.invoice_id)

    [webhook] = sent
    assert (webhook.app_id, webhook.invoice_id, webhook.url) == (
        1,
        invoice.invoice_id,
        "https://shop.example/hook",
    )
    assert webhook.signature == sign(webhook.content, "1:abc")
    assert cryptopay_verify(webhook.content, webhook.signature, "1:abc")
    assert emulator.app(1).balances["USDT"] == Decimal("9.70")


def test_api_errors_carry_code_and_name() -> None:
    emulator, _ = emulator_at(START)

    with pytest.raises(ApiError) as missing_token:
        emulator.call("getMe", None, {})
    with pytest.raises(ApiError) as unknown:
        emulator.call("getStats", "1:abc", {})

    assert missing_token.value.body() == {
        "ok": False,
        "error": {"code": 401, "name": "UNAUTHORIZED"},
    }
    assert (unknown.value.code, unknown.value.name) == (405, "METHOD_NOT_FOUND")


def test_an_app_token_must_look_like_a_crypto_pay_token() -> None:
    with pytest.raises(ValueError, match="token"):
        App(1, "Shop", "abc")
