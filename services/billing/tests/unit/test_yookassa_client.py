import json

import httpx
import pytest

from billing.providers.yookassa import (
    YooKassaClient,
    YooKassaError,
    YooKassaNotFound,
    YooKassaPayment,
    YooKassaRejected,
    YooKassaUnavailable,
)
from contracts.money import Money

PAYMENT = {
    "id": "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f",
    "status": "pending",
    "paid": False,
    "amount": {"value": "299.00", "currency": "RUB"},
    "confirmation": {
        "type": "redirect",
        "return_url": "https://t.me/MyVpnBot?start=paid",
        "confirmation_url": "https://yoomoney.ru/api-pages/v2/payment-confirm/epl?orderId=2d9f",
    },
    "created_at": "2025-01-15T10:00:00.000Z",
    "description": "VPN, 1 месяц, заказ 1042",
    "metadata": {"order_id": "1042"},
    "recipient": {"account_id": "123456", "gateway_id": "1234567"},
    "refundable": False,
    "test": True,
}


def test_a_payment_object_is_read_in_integer_minor_units() -> None:
    payment = YooKassaPayment.from_api(PAYMENT)
    assert payment.amount == Money(amount_minor=29900, currency="RUB")
    assert payment.confirmation_url is not None
    assert payment.created_at.utcoffset() is not None
    assert payment.metadata == {"order_id": "1042"}


@pytest.mark.parametrize(
    "broken", [{}, {**PAYMENT, "amount": {"value": "1.001", "currency": "RUB"}}, []]
)
def test_anything_else_is_refused(broken: object) -> None:
    with pytest.raises(YooKassaError):
        YooKassaPayment.from_api(broken)


def client(handler: httpx.MockTransport) -> YooKassaClient:
    return YooKassaClient(
        base_url="https://api.yookassa.test/v3",
        shop_id="123456",
        secret_key="test_key",
        transport=handler,
    )


async def test_create_sends_basic_auth_the_idempotence_key_and_a_decimal_amount() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PAYMENT)

    yookassa = client(httpx.MockTransport(answer))
    await yookassa.create_payment(
        idempotence_key="7e0f6f8a-3c1e-4b8e-9d8e-2a0b6c5d4e3f",
        amount=Money(amount_minor=29900, currency="RUB"),
        description="VPN",
        return_url="https://t.me/bot",
        metadata={"order_id": "1042"},
    )
    [request] = seen
    assert request.url == "https://api.yookassa.test/v3/payments"
    assert request.headers["Idempotence-Key"] == "7e0f6f8a-3c1e-4b8e-9d8e-2a0b6c5d4e3f"
    assert request.headers["Authorization"].startswith("Basic ")
    body = json.loads(request.content)
    assert body["amount"] == {"value": "299.00", "currency": "RUB"}
    assert body["capture"] is True


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, YooKassaUnavailable),
        (429, YooKassaUnavailable),
        (202, YooKassaUnavailable),
        (400, YooKassaRejected),
        (401, YooKassaRejected),
        (404, YooKassaNotFound),
    ],
)
async def test_errors_say_whether_repeating_can_help(status: int, error: type[Exception]) -> None:
    body = {"type": "error", "id": "x", "code": "invalid_request", "description": "no"}
    yookassa = client(httpx.MockTransport(lambda _: httpx.Response(status, json=body)))
    with pytest.raises(error):
        await yookassa.get_payment(PAYMENT["id"])


async def test_an_id_that_cannot_be_a_payment_never_reaches_the_url() -> None:
    yookassa = client(httpx.MockTransport(lambda _: pytest.fail("no request expected")))
    with pytest.raises(YooKassaNotFound):
        await yookassa.get_payment("../me")
