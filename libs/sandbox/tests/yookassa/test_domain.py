"""The emulator without HTTP: money, ids, the idempotence store, receipts, notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox.yookassa import Amount, ApiError, Notification, Shop, YooKassaConfig, YooKassaEmulator
from sandbox.yookassa.faults import FaultPlan
from sandbox.yookassa.idempotence import IdempotenceStore, StoredResponse, request_fingerprint
from sandbox.yookassa.identifiers import ObjectKind, format_timestamp, new_object_id
from sandbox.yookassa.validation import parse_receipt

from .spec_samples import PAYMENT_ID, REFUND_ID

START = datetime(2025, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)


class FrozenClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def embedded(value: str = "299.00", **fields: Any) -> dict[str, Any]:
    return {
        "amount": {"value": value, "currency": "RUB"},
        "confirmation": {"type": "embedded"},
        **fields,
    }


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def emulator(clock: FrozenClock) -> YooKassaEmulator:
    return YooKassaEmulator(
        shops=[Shop("123456", "secret", notification_url="http://127.0.0.1:9/hook")],
        clock=clock,
    )


@pytest.mark.parametrize(
    ("value", "minor"),
    [("299", 29900), ("299.5", 29950), ("299.00", 29900), ("0.01", 1), ("007.10", 710)],
)
def test_amount_values(value: str, minor: int) -> None:
    amount = Amount.parse_value(value, "RUB")

    assert amount == Amount(minor, "RUB")
    assert Amount.parse_value(amount.value, "RUB") == amount


@pytest.mark.parametrize("value", ["", "1.", ".5", "1.001", "-1", "1e3", "1,00", " 1", "١"])
def test_not_amount_values(value: str) -> None:
    assert Amount.parse_value(value, "RUB") is None


@pytest.mark.parametrize(
    ("value", "income"),
    [("299.00", "288.54"), ("100.00", "96.50"), ("1.00", "0.97"), ("0.01", "0.01")],
)
def test_income_is_the_amount_less_the_commission_rounded_half_up(value: str, income: str) -> None:
    amount = Amount.parse_value(value, "RUB")
    assert amount is not None

    assert amount.minus_commission(Decimal("0.035")).value == income


def test_ids_and_timestamps_look_like_yookassa_ones() -> None:
    payment_id = new_object_id(ObjectKind.PAYMENT, START)

    assert PAYMENT_ID.fullmatch(payment_id)
    assert REFUND_ID.fullmatch(new_object_id(ObjectKind.REFUND, START))
    assert payment_id.startswith(f"{int(START.timestamp()) - 946_684_800:08x}-")
    assert format_timestamp(START) == "2025-01-15T10:00:00.123Z"


def test_the_idempotence_store_expires_keys_after_the_ttl() -> None:
    store = IdempotenceStore(timedelta(hours=24))
    fingerprint = request_fingerprint("POST", "/v3/payments", b'{"a": 1}')
    answer = StoredResponse(200, {"id": "x"})
    store.remember("shop", "key", fingerprint, answer, START)

    assert store.lookup("shop", "key", fingerprint, START + timedelta(hours=23)) == answer
    assert store.lookup("other-shop", "key", fingerprint, START) is None
    with pytest.raises(ApiError) as duplicated:
        store.lookup("shop", "key", request_fingerprint("POST", "/v3/refunds", b'{"a": 1}'), START)
    assert duplicated.value.description == "Idempotence key duplicated"
    assert store.lookup("shop", "key", fingerprint, START + timedelta(hours=24)) is None
    assert len(store) == 0


def test_fingerprints_compare_json_by_content() -> None:
    def fingerprint(body: bytes) -> str:
        return request_fingerprint("POST", "/v3/payments", body)

    assert fingerprint(b'{"a":1,"b":"2"}') == fingerprint(b'{ "b": "2", "a": 1 }')
    assert fingerprint(b'{"a":1.0}') != fingerprint(b'{"a":"1.0"}')
    assert fingerprint(b'{"a":1}') != fingerprint(b'{"a":2}')
    assert fingerprint(b"not json") == fingerprint(b"not json")


@pytest.mark.parametrize(
    "items",
    [
        [{"quantity": Decimal("0.5"), "value": "99.99"}, {"quantity": 1, "value": "249.00"}],
        [{"quantity": "3", "value": "99.67"}],
    ],
)
def test_receipt_lines_add_up_in_kopecks(items: list[dict[str, Any]]) -> None:
    raw = {
        "email": "user@example.com",
        "items": [
            {
                "description": "VPN",
                "quantity": item["quantity"],
                "amount": {"value": item["value"], "currency": "RUB"},
                "vat_code": 1,
            }
            for item in items
        ],
    }

    receipt = parse_receipt(raw, Amount(29900 if len(items) == 2 else 29901, "RUB"))

    assert receipt["customer"] == {"email": "user@example.com"}
    assert all(isinstance(item["quantity"], str) for item in receipt["items"])


def test_a_receipt_in_another_currency_is_illegal() -> None:
    raw = {
        "customer": {"email": "user@example.com"},
        "items": [
            {
                "description": "VPN",
                "quantity": "1",
                "amount": {"value": "299.00", "currency": "USD"},
                "vat_code": 1,
            }
        ],
    }

    with pytest.raises(ApiError) as illegal:
        parse_receipt(raw, Amount(29900, "RUB"))

    assert illegal.value.parameter == "receipt"


def test_each_status_change_hands_over_a_snapshot(
    emulator: YooKassaEmulator, clock: FrozenClock
) -> None:
    sent: list[Notification] = []
    emulator.notification_sink = sent.append
    shop = emulator.shops()[0]
    payment = emulator.create_payment(shop, embedded(capture=False))

    emulator.succeed(payment.id)
    clock.now += timedelta(seconds=65)
    emulator.capture_payment(shop, payment.id, None)

    assert [n.event for n in sent] == ["payment.waiting_for_capture", "payment.succeeded"]
    assert sent[0].body["object"]["status"] == "waiting_for_capture"
    assert sent[0].body["object"]["expires_at"] == "2025-01-22T10:00:00.123Z"
    assert sent[1].body["object"]["captured_at"] == "2025-01-15T10:01:05.123Z"
    assert all(n.url == "http://127.0.0.1:9/hook" and n.payment_id == payment.id for n in sent)


def test_a_held_payment_expires_when_its_time_runs_out(
    emulator: YooKassaEmulator, clock: FrozenClock
) -> None:
    shop = emulator.shops()[0]
    payment = emulator.create_payment(shop, embedded(capture=False))
    emulator.succeed(payment.id)

    clock.now += timedelta(days=7) - timedelta(milliseconds=1)
    assert emulator.payment(shop, payment.id).status == "waiting_for_capture"
    clock.now += timedelta(milliseconds=1)
    assert emulator.payment(shop, payment.id).status == "canceled"
    assert emulator.payment_state(payment.id)["events"] == [
        "payment.waiting_for_capture",
        "payment.canceled",
    ]


def test_the_clock_does_not_go_back(emulator: YooKassaEmulator) -> None:
    with pytest.raises(ApiError):
        emulator.advance_clock(timedelta(seconds=-1))


def test_the_confirmation_url_base_is_configurable() -> None:
    emulator = YooKassaEmulator(
        YooKassaConfig(confirmation_url_base="http://127.0.0.1:8080/pay"),
        shops=[Shop("1", "secret")],
    )

    payment = emulator.create_payment(
        emulator.shops()[0],
        {
            "amount": {"value": "1.00", "currency": "RUB"},
            "confirmation": {"type": "redirect", "return_url": "https://example.com"},
        },
    )

    assert payment.to_json()["confirmation"]["confirmation_url"] == (
        f"http://127.0.0.1:8080/pay?orderId={payment.id}"
    )


def test_reset_forgets_everything_but_kept_shops(emulator: YooKassaEmulator) -> None:
    shop = emulator.shops()[0]
    payment = emulator.create_payment(shop, embedded())

    emulator.reset(keep_shops=True)

    assert emulator.shops() == [shop]
    with pytest.raises(ApiError):
        emulator.payment(shop, payment.id)
    emulator.reset()
    assert emulator.shops() == []


def test_planned_faults_are_used_up_in_order_per_operation() -> None:
    plan = FaultPlan()
    plan.plan("create_payment", 429, 1, executed=False)
    plan.plan("create_refund", 500, 1, executed=True)
    plan.plan("create_payment", 500, 2, executed=True)

    taken = [plan.take("create_payment") for _ in range(4)]

    assert [(f.status, f.executed) if f else None for f in taken] == [
        (429, False),
        (500, True),
        (500, True),
        None,
    ]
    assert [f.operation for f in plan.planned()] == ["create_refund"]


def test_a_planned_charge_outcome_without_http(emulator: YooKassaEmulator) -> None:
    sent: list[Notification] = []
    emulator.notification_sink = sent.append
    shop = emulator.shops()[0]
    first = emulator.create_payment(shop, embedded(save_payment_method=True, capture=True))
    emulator.succeed(first.id)
    emulator.plan_charges(first.id, "canceled", reason="call_issuer")

    declined = emulator.create_payment(
        shop, {"amount": {"value": "299.00", "currency": "RUB"}, "payment_method_id": first.id}
    )
    paid = emulator.create_payment(
        shop, {"amount": {"value": "299.00", "currency": "RUB"}, "payment_method_id": first.id}
    )

    assert declined.to_json()["cancellation_details"] == {
        "party": "payment_network",
        "reason": "call_issuer",
    }
    assert paid.status == "waiting_for_capture"
    assert [n.event for n in sent] == [
        "payment.succeeded",
        "payment.canceled",
        "payment.waiting_for_capture",
    ]
    assert emulator.payment_method_state(first.id)["charges"] == [declined.id, paid.id]


def test_a_pending_refund_reserves_its_amount(emulator: YooKassaEmulator) -> None:
    shop = emulator.shops()[0]
    payment = emulator.create_payment(shop, embedded(capture=True))
    emulator.succeed(payment.id)
    emulator.plan_refunds(payment.id, "pending")
    refund_body = {"payment_id": payment.id, "amount": {"value": "299.00", "currency": "RUB"}}

    held = emulator.create_refund(shop, refund_body)
    with pytest.raises(ApiError) as nothing_left:
        emulator.create_refund(shop, refund_body)
    emulator.cancel_refund(held.id, reason="general_decline", party="yoo_money")
    again = emulator.create_refund(shop, refund_body)

    assert nothing_left.value.parameter == "amount.value"
    assert held.status == "canceled"
    assert again.status == "succeeded"
    assert payment.to_json()["refunded_amount"] == {"value": "299.00", "currency": "RUB"}
    assert payment.to_json()["refundable"] is False
