"""The /v3 API on the wire: credentials, status codes, validation, object shapes, lists."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from .conftest import SHOP_ID, Sandbox, payment_body, receipt
from .spec_samples import ERROR_ID, PAYMENT_ID, PENDING_PAYMENT, TIMESTAMP


def key() -> dict[str, str]:
    return {"Idempotence-Key": str(uuid.uuid4())}


def assert_error(response: httpx.Response, status: int, code: str, parameter: str | None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert ERROR_ID.fullmatch(body["id"])
    assert body["code"] == code
    assert isinstance(body["description"], str)
    assert body["description"]
    assert body.get("parameter") == parameter


async def test_me_describes_the_shop(sandbox: Sandbox) -> None:
    response = await sandbox.api.get("me")

    assert response.status_code == 200
    assert response.json() == {
        "account_id": SHOP_ID,
        "test": True,
        "fiscalization_enabled": False,
        "payment_methods": ["bank_card", "yoo_money", "sbp"],
        "status": "enabled",
    }


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(f"{SHOP_ID}:wrong".encode()).decode(),
        "Basic " + base64.b64encode(b"999999:test_SecretKey").decode(),
        "Basic " + base64.b64encode(SHOP_ID.encode()).decode(),
        "Basic not-base64!",
        "Bearer some-oauth-token",
    ],
    ids=["missing", "wrong-secret", "unknown-shop", "no-colon", "garbage", "oauth"],
)
async def test_bad_credentials_are_401_invalid_credentials(
    sandbox: Sandbox, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    no_client_auth = httpx.Auth()
    read = await sandbox.api.get("me", headers=headers, auth=no_client_auth)
    write = await sandbox.api.post(
        "payments", json=payment_body(), headers={**headers, **key()}, auth=no_client_auth
    )

    assert_error(read, 401, "invalid_credentials", None)
    assert_error(write, 401, "invalid_credentials", None)
    assert (await sandbox.api.get("payments")).json()["items"] == []


async def test_unknown_or_foreign_payment_is_404_not_found(sandbox: Sandbox) -> None:
    foreign = (
        await sandbox.receipt_api.post(
            "payments", json=payment_body(receipt=receipt()), headers=key()
        )
    ).json()

    assert_error(
        await sandbox.api.get("payments/2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f"),
        404,
        "not_found",
        "payment_id",
    )
    assert_error(await sandbox.api.get(f"payments/{foreign['id']}"), 404, "not_found", "payment_id")
    assert_error(
        await sandbox.api.post(f"payments/{foreign['id']}/cancel", json={}, headers=key()),
        404,
        "not_found",
        "payment_id",
    )
    assert_error(await sandbox.api.get("no/such/thing"), 404, "not_found", None)


async def test_wrong_method_is_405(sandbox: Sandbox) -> None:
    put = await sandbox.api.put("payments", json={})
    get_capture = await sandbox.api.get("payments/x/capture")

    assert put.status_code == 405
    assert set(put.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert get_capture.status_code == 405


async def test_post_that_is_not_json_is_415(sandbox: Sandbox) -> None:
    form = await sandbox.api.post("payments", data={"amount": "1"}, headers=key())
    no_type = await sandbox.api.post("payments", content=b"{}", headers=key())
    with_charset = await sandbox.api.post(
        "payments",
        content=b'{"amount":{"value":"1.00","currency":"RUB"},"confirmation":{"type":"embedded"}}',
        headers={**key(), "Content-Type": "application/json; charset=utf-8"},
    )

    assert form.status_code == 415
    assert no_type.status_code == 415
    assert with_charset.status_code == 200


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"amount": None}, "amount"),
        ({"amount": {"value": 299.0, "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "299.001", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "0.00", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "-5.00", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "299.00", "currency": "rub"}}, "amount.currency"),
        ({"amount": {"value": "299.00"}}, "amount.currency"),
        ({"description": "x" * 129}, "description"),
        ({"description": 42}, "description"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 33: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"metadata": {"order_id": 1042}}, "metadata"),
        ({"metadata": ["order_id"]}, "metadata"),
        ({"confirmation": None}, "confirmation"),
        ({"confirmation": {"type": "redirect"}}, "confirmation.return_url"),
        ({"confirmation": {"type": "popup"}}, "confirmation.type"),
        ({"confirmation": {"type": "embedded", "locale": "de_DE"}}, "confirmation.locale"),
        ({"capture": "yes"}, "capture"),
        ({"save_payment_method": 1}, "save_payment_method"),
        ({"payment_method_data": {"type": "paypal"}}, "payment_method_data.type"),
    ],
)
async def test_invalid_payment_is_400_naming_the_parameter(
    sandbox: Sandbox, changes: dict[str, Any], parameter: str
) -> None:
    body = {k: v for k, v in {**payment_body(), **changes}.items() if v is not None}

    response = await sandbox.api.post("payments", json=body, headers=key())

    assert_error(response, 400, "invalid_request", parameter)


async def test_limits_are_inclusive(sandbox: Sandbox) -> None:
    body = payment_body(
        description="x" * 128,
        metadata={f"{i:k>32}": "v" * 512 for i in range(16)},
    )

    created = await sandbox.create_payment(body)

    assert created["description"] == "x" * 128
    assert len(created["metadata"]) == 16


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"payment"'])
async def test_a_body_that_is_not_an_object_is_400(sandbox: Sandbox, body: bytes) -> None:
    response = await sandbox.api.post(
        "payments", content=body, headers={**key(), "Content-Type": "application/json"}
    )

    assert_error(response, 400, "invalid_request", None)


async def test_created_payment_has_the_shape_of_the_spec(sandbox: Sandbox) -> None:
    created = await sandbox.create_payment(amount={"value": "299", "currency": "RUB"})

    assert created.keys() == PENDING_PAYMENT.keys()
    assert PAYMENT_ID.fullmatch(created["id"])
    assert TIMESTAMP.fullmatch(created["created_at"])
    assert created["status"] == "pending"
    assert created["paid"] is False
    assert created["amount"] == {"value": "299.00", "currency": "RUB"}
    assert created["confirmation"] == {
        "type": "redirect",
        "return_url": "https://t.me/MyVpnBot?start=paid",
        "confirmation_url": "https://yoomoney.ru/api-pages/v2/payment-confirm/epl?orderId="
        + created["id"],
    }
    assert created["metadata"] == PENDING_PAYMENT["metadata"]
    assert created["recipient"]["account_id"] == SHOP_ID
    assert created["recipient"]["gateway_id"].isdigit()
    assert created["refundable"] is False
    assert created["test"] is True
    assert (await sandbox.api.get(f"payments/{created['id']}")).json() == created


async def test_confirmation_types(sandbox: Sandbox) -> None:
    embedded = await sandbox.create_payment(confirmation={"type": "embedded", "locale": "en_US"})
    qr = await sandbox.create_payment(confirmation={"type": "qr"})
    external = await sandbox.create_payment(confirmation={"type": "external"})

    assert embedded["confirmation"] == {
        "type": "embedded",
        "locale": "en_US",
        "confirmation_token": f"ct-{embedded['id']}",
    }
    assert qr["confirmation"]["confirmation_data"].startswith("https://qr.nspk.ru/")
    assert external["confirmation"] == {"type": "external"}


async def test_preselected_method_appears_before_payment(sandbox: Sandbox) -> None:
    created = await sandbox.create_payment(payment_method_data={"type": "sbp"})

    assert created["payment_method"] == {"type": "sbp", "id": created["id"], "saved": False}


async def test_a_method_the_shop_does_not_accept_is_403(sandbox: Sandbox) -> None:
    response = await sandbox.api.post(
        "payments", json=payment_body(payment_method_data={"type": "sberbank"}), headers=key()
    )

    assert_error(response, 403, "forbidden", "payment_method_data.type")


async def test_list_pages_newest_first_with_a_cursor(sandbox: Sandbox) -> None:
    created = [(await sandbox.create_payment(metadata={"n": str(n)}))["id"] for n in range(5)]

    seen: list[str] = []
    cursors: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    while True:
        page = (await sandbox.api.get("payments", params=params)).json()
        assert page["type"] == "list"
        seen += [item["id"] for item in page["items"]]
        if "next_cursor" not in page:
            break
        cursors.append(page["next_cursor"])
        params = {"limit": "2", "cursor": page["next_cursor"]}

    assert seen == created[::-1]
    assert len(cursors) == 2
    default_page = (await sandbox.api.get("payments")).json()
    assert len(default_page["items"]) == 5
    assert "next_cursor" not in default_page


async def test_list_filters(sandbox: Sandbox) -> None:
    first = await sandbox.create_payment()
    paid = await sandbox.create_payment()
    await sandbox.control.succeed(paid["id"], payment_method_type="yoo_money")

    async def ids(**params: str) -> list[str]:
        response = await sandbox.api.get("payments", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(status="succeeded") == [paid["id"]]
    assert await ids(status="pending") == [first["id"]]
    assert await ids(payment_method="yoo_money") == [paid["id"]]
    assert await ids(payment_method="bank_card") == []
    assert await ids(**{"created_at.gte": paid["created_at"]}) == [paid["id"]]
    assert await ids(**{"created_at.lte": first["created_at"]}) == [first["id"]]
    assert await ids(**{"captured_at.gte": "2000-01-01T00:00:00.000Z"}) == [paid["id"]]
    assert await ids(**{"created_at.lt": "2000-01-01T00:00:00.000Z"}) == []


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"status": "paid"}, "status"),
        ({"created_at.gte": "yesterday"}, "created_at.gte"),
        ({"payment_method": "paypal"}, "payment_method"),
    ],
)
async def test_bad_list_query_is_400(
    sandbox: Sandbox, params: dict[str, str], parameter: str
) -> None:
    assert_error(
        await sandbox.api.get("payments", params=params), 400, "invalid_request", parameter
    )


class TestReceiptWhenFiscalizationIsOn:
    async def create(self, sandbox: Sandbox, body: dict[str, Any]) -> httpx.Response:
        return await sandbox.receipt_api.post("payments", json=body, headers=key())

    @pytest.mark.parametrize(
        "bad_receipt",
        [
            None,
            receipt(value="298.99"),
            receipt(phone="not-a-phone"),
            {"customer": {}, "items": receipt()["items"]},
            {**receipt(), "items": []},
            {**receipt(), "items": [{**receipt()["items"][0], "vat_code": 13}]},
            {**receipt(), "items": [{**receipt()["items"][0], "vat_code": "1"}]},
            {**receipt(), "items": [{**receipt()["items"][0], "quantity": "0"}]},
            {**receipt(), "items": [{**receipt()["items"][0], "description": "x" * 129}]},
            {**receipt(), "items": [{**receipt()["items"][0], "payment_mode": "gift"}]},
        ],
        ids=[
            "missing",
            "sum-differs",
            "no-contact",
            "empty-customer",
            "no-items",
            "vat-13",
            "vat-as-string",
            "zero-quantity",
            "long-description",
            "bad-payment-mode",
        ],
    )
    async def test_missing_or_illegal_receipt_is_400(
        self, sandbox: Sandbox, bad_receipt: dict[str, Any] | None
    ) -> None:
        body = payment_body() if bad_receipt is None else payment_body(receipt=bad_receipt)

        response = await self.create(sandbox, body)

        assert_error(response, 400, "invalid_request", "receipt")
        assert response.json()["description"] == "Receipt is missing or illegal"

    async def test_a_legal_receipt_is_registered_on_success(self, sandbox: Sandbox) -> None:
        two_lines = {
            "customer": {"phone": "79211234567"},
            "items": [
                {**receipt("100.00")["items"][0], "quantity": 2},
                {**receipt("99.00")["items"][0], "quantity": "1.000", "vat_code": 12},
            ],
        }

        created = await self.create(sandbox, payment_body(receipt=two_lines))
        assert created.status_code == 200, created.text
        paid = await sandbox.control.succeed(created.json()["id"])

        assert "receipt_registration" not in created.json()
        assert paid["receipt_registration"] == "succeeded"
        state = await sandbox.control.payment(paid["id"])
        assert [item["quantity"] for item in state["receipt"]["items"]] == ["2", "1.000"]

    async def test_without_fiscalization_a_payment_needs_no_receipt(self, sandbox: Sandbox) -> None:
        created = await sandbox.create_payment()
        paid = await sandbox.control.succeed(created["id"])

        assert "receipt_registration" not in paid
