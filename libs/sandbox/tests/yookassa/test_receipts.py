"""54-FZ receipts of a shop with fiscalization on: payments and refunds, 2026 VAT codes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import Sandbox, payment_body, receipt


def with_vat(vat_code: object, value: str = "299.00") -> dict[str, Any]:
    body = receipt(value)
    body["items"][0]["vat_code"] = vat_code
    return body


async def create(sandbox: Sandbox, body: dict[str, Any]) -> httpx.Response:
    return await sandbox.post("payments", body, api=sandbox.receipt_api)


async def paid(sandbox: Sandbox, **fields: Any) -> Any:
    created = await create(sandbox, payment_body(receipt=receipt(), **fields))
    assert created.status_code == 200, created.text
    return await sandbox.control.succeed(created.json()["id"])


async def refund(sandbox: Sandbox, payment_id: str, value: str, **fields: Any) -> httpx.Response:
    body = {"payment_id": payment_id, "amount": {"value": value, "currency": "RUB"}, **fields}
    return await sandbox.post("refunds", body, api=sandbox.receipt_api)


def assert_illegal_receipt(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    assert response.json()["description"] == "Receipt is missing or illegal"
    assert response.json()["parameter"] == "receipt"


@pytest.mark.parametrize("vat_code", range(1, 13))
async def test_every_vat_code_from_1_to_12_is_accepted(sandbox: Sandbox, vat_code: int) -> None:
    response = await create(sandbox, payment_body(receipt=with_vat(vat_code)))

    assert response.status_code == 200, response.text
    state = await sandbox.control.payment(response.json()["id"])
    assert state["receipt"]["items"][0]["vat_code"] == vat_code


@pytest.mark.parametrize("vat_code", [0, 13, -1, "11", True, None])
async def test_other_vat_codes_are_illegal(sandbox: Sandbox, vat_code: object) -> None:
    assert_illegal_receipt(await create(sandbox, payment_body(receipt=with_vat(vat_code))))


async def test_the_2026_rates_22_and_22_122_are_recorded_as_sent(sandbox: Sandbox) -> None:
    lines = {
        "customer": {"full_name": "Иван Иванов", "email": "user@example.com"},
        "items": [
            {**with_vat(11, "200.00")["items"][0]},
            {**with_vat(12, "99.00")["items"][0], "description": "Доступ к VPN, доплата"},
        ],
    }

    created = await create(sandbox, payment_body(receipt=lines))
    paid_payment = await sandbox.control.succeed(created.json()["id"])
    state = await sandbox.control.payment(created.json()["id"])

    assert "receipt_registration" not in created.json()
    assert paid_payment["receipt_registration"] == "succeeded"
    assert state["receipt"] == {
        "customer": {"full_name": "Иван Иванов", "email": "user@example.com"},
        "items": [
            {
                "description": "Доступ к VPN-сервису, 1 месяц",
                "quantity": "1.00",
                "amount": {"value": "200.00", "currency": "RUB"},
                "vat_code": 11,
                "payment_subject": "service",
                "payment_mode": "full_payment",
            },
            {
                "description": "Доступ к VPN, доплата",
                "quantity": "1.00",
                "amount": {"value": "99.00", "currency": "RUB"},
                "vat_code": 12,
                "payment_subject": "service",
                "payment_mode": "full_payment",
            },
        ],
    }


@pytest.mark.parametrize(
    "customer",
    [{"email": "user@example.com"}, {"phone": "79211234567"}, {"phone": "+79211234567"}],
)
async def test_an_email_or_a_phone_is_enough(sandbox: Sandbox, customer: dict[str, str]) -> None:
    response = await create(sandbox, payment_body(receipt=receipt(**customer)))

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "customer", [{"full_name": "Иван Иванов"}, {"email": "not-an-email"}, {"phone": "+7 921"}]
)
async def test_a_customer_without_email_or_phone_is_illegal(
    sandbox: Sandbox, customer: dict[str, str]
) -> None:
    assert_illegal_receipt(await create(sandbox, payment_body(receipt=receipt(**customer))))


async def test_the_items_must_add_up_to_the_payment(sandbox: Sandbox) -> None:
    three = {**receipt("99.67"), "items": [{**receipt("99.67")["items"][0], "quantity": "3"}]}

    exact = await create(
        sandbox, payment_body(amount={"value": "299.01", "currency": "RUB"}, receipt=three)
    )
    short = await create(sandbox, payment_body(receipt=three))

    assert exact.status_code == 200, exact.text
    assert_illegal_receipt(short)


class TestRefundReceipts:
    async def test_a_refund_needs_its_own_receipt_and_it_is_recorded(
        self, sandbox: Sandbox
    ) -> None:
        payment = await paid(sandbox)

        without = await refund(sandbox, payment["id"], "100.00")
        whole_payment = await refund(sandbox, payment["id"], "100.00", receipt=receipt())
        partial = await refund(
            sandbox, payment["id"], "100.00", receipt=receipt("100.00", phone="79211234567")
        )

        assert_illegal_receipt(without)
        assert_illegal_receipt(whole_payment)
        assert partial.status_code == 200, partial.text
        assert partial.json()["receipt_registration"] == "succeeded"
        state = await sandbox.control.refund(partial.json()["id"])
        assert state["refund"] == partial.json()
        assert state["receipt"]["customer"] == {"phone": "79211234567"}
        assert state["receipt"]["items"][0]["amount"] == {"value": "100.00", "currency": "RUB"}
        payment_state = await sandbox.control.payment(payment["id"])
        assert [r["id"] for r in payment_state["refunds"]] == [partial.json()["id"]]
        assert payment_state["payment"]["refunded_amount"]["value"] == "100.00"

    @pytest.mark.parametrize("vat_code", [11, 12])
    async def test_a_refund_takes_the_2026_vat_codes(self, sandbox: Sandbox, vat_code: int) -> None:
        payment = await paid(sandbox)

        response = await refund(sandbox, payment["id"], "299.00", receipt=with_vat(vat_code))

        assert response.status_code == 200, response.text
        state = await sandbox.control.refund(response.json()["id"])
        assert state["receipt"]["items"][0]["vat_code"] == vat_code

    async def test_an_illegal_refund_receipt_refunds_nothing(self, sandbox: Sandbox) -> None:
        payment = await paid(sandbox)

        response = await refund(sandbox, payment["id"], "299.00", receipt=with_vat(13))

        assert_illegal_receipt(response)
        state = await sandbox.control.payment(payment["id"])
        assert state["refunds"] == []
        assert state["payment"]["refundable"] is True

    async def test_a_held_refund_registers_its_receipt_when_settled(self, sandbox: Sandbox) -> None:
        payment = await paid(sandbox)
        await sandbox.control.plan_refunds(payment["id"], count=2)
        first = (await refund(sandbox, payment["id"], "100.00", receipt=receipt("100.00"))).json()
        second = (await refund(sandbox, payment["id"], "199.00", receipt=receipt("199.00"))).json()

        settled = await sandbox.control.succeed_refund(first["id"])
        declined = await sandbox.control.cancel_refund(second["id"])

        assert first["receipt_registration"] == second["receipt_registration"] == "pending"
        assert settled["receipt_registration"] == "succeeded"
        assert declined["receipt_registration"] == "canceled"

    async def test_without_fiscalization_a_refund_needs_no_receipt(self, sandbox: Sandbox) -> None:
        payment = await sandbox.create_payment()
        await sandbox.control.succeed(payment["id"])

        response = await sandbox.post(
            "refunds",
            {"payment_id": payment["id"], "amount": {"value": "299.00", "currency": "RUB"}},
        )

        assert response.status_code == 200
        assert "receipt_registration" not in response.json()
        assert (await sandbox.control.refund(response.json()["id"]))["receipt"] is None


async def test_a_partial_capture_needs_a_receipt_for_the_captured_amount(
    sandbox: Sandbox,
) -> None:
    created = await create(sandbox, payment_body(capture=False, receipt=receipt()))
    await sandbox.control.succeed(created.json()["id"])
    path = f"payments/{created.json()['id']}/capture"
    amount = {"value": "100.00", "currency": "RUB"}

    without = await sandbox.post(path, {"amount": amount}, api=sandbox.receipt_api)
    captured = await sandbox.post(
        path, {"amount": amount, "receipt": with_vat(11, "100.00")}, api=sandbox.receipt_api
    )

    assert_illegal_receipt(without)
    assert captured.json()["status"] == "succeeded"
    state = await sandbox.control.payment(created.json()["id"])
    assert state["receipt"]["items"][0]["amount"]["value"] == "100.00"
    assert state["receipt"]["items"][0]["vat_code"] == 11
