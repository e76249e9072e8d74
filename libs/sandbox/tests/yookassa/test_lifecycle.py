"""A payment's life: paying, canceling, two-stage capture, autopayments and refunds."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from sandbox.yookassa import SandboxControlError

from .conftest import SHOP_ID, Sandbox, receipt
from .spec_samples import CARD_KEYS, REFUND, REFUND_ID, SUCCEEDED_NOTIFICATION, TIMESTAMP


async def post(sandbox: Sandbox, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return await sandbox.api.post(
        path, json={} if body is None else body, headers={"Idempotence-Key": str(uuid.uuid4())}
    )


async def get(sandbox: Sandbox, path: str) -> Any:
    response = await sandbox.api.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def test_paid_payment_and_its_notification_match_the_spec(sandbox: Sandbox) -> None:
    api = sandbox.receipt_api
    created = await api.post(
        "payments",
        json={
            "amount": {"value": "299.00", "currency": "RUB"},
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": "https://t.me/MyVpnBot"},
            "description": "VPN, 1 месяц, заказ 1042",
            "save_payment_method": True,
            "metadata": {"order_id": "1042", "tg_user_id": "123456789", "plan": "m1"},
            "receipt": receipt(),
        },
        headers={"Idempotence-Key": str(uuid.uuid4())},
    )
    payment_id = created.json()["id"]

    paid = await sandbox.control.succeed(payment_id)
    fetched = (await api.get(f"payments/{payment_id}")).json()
    [delivery] = await sandbox.control.wait_delivered(payment_id, "payment.succeeded")

    [notification] = [r.body for r in sandbox.receiver.received]
    assert notification.keys() == SUCCEEDED_NOTIFICATION.keys()
    assert notification["type"] == "notification"
    assert notification["event"] == "payment.succeeded"
    obj = notification["object"]
    assert obj == paid == fetched
    assert obj.keys() == SUCCEEDED_NOTIFICATION["object"].keys()
    assert obj["payment_method"].keys() == SUCCEEDED_NOTIFICATION["object"]["payment_method"].keys()
    assert obj["payment_method"]["card"].keys() == CARD_KEYS
    assert obj["payment_method"]["id"] == payment_id
    assert obj["payment_method"]["saved"] is True
    assert obj["status"] == "succeeded"
    assert obj["paid"] is True
    assert obj["income_amount"] == {"value": "288.54", "currency": "RUB"}
    assert obj["refunded_amount"] == {"value": "0.00", "currency": "RUB"}
    assert obj["refundable"] is True
    assert obj["receipt_registration"] == "succeeded"
    assert TIMESTAMP.fullmatch(obj["captured_at"])
    assert obj["captured_at"] >= obj["created_at"]
    assert obj["authorization_details"]["three_d_secure"] == {"applied": False}
    assert "confirmation" not in obj
    assert delivery.payment_id == payment_id
    assert delivery.status_code == 200


async def test_an_unpaid_payment_is_canceled_with_details(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment()

    canceled = await sandbox.control.cancel(payment["id"])
    await sandbox.control.wait_delivered(payment["id"], "payment.canceled")

    assert canceled["status"] == "canceled"
    assert canceled["paid"] is False
    assert canceled["refundable"] is False
    assert canceled["cancellation_details"] == {
        "party": "yoo_money",
        "reason": "expired_on_confirmation",
    }
    assert "confirmation" not in canceled
    assert sandbox.receiver.events(payment["id"]) == ["payment.canceled"]
    assert (await get(sandbox, f"payments/{payment['id']}")) == canceled


async def test_the_bank_declines_with_its_reason(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment()

    canceled = await sandbox.control.cancel(
        payment["id"], reason="insufficient_funds", party="payment_network"
    )

    assert canceled["cancellation_details"] == {
        "party": "payment_network",
        "reason": "insufficient_funds",
    }


@pytest.mark.parametrize(
    ("reason", "party"), [("bored", "yoo_money"), ("general_decline", "the_user")]
)
async def test_unknown_cancellation_reason_or_party_is_refused(
    sandbox: Sandbox, reason: str, party: str
) -> None:
    payment = await sandbox.create_payment()

    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.cancel(payment["id"], reason=reason, party=party)

    assert refused.value.status_code == 400


async def test_final_payments_cannot_be_paid_or_canceled_again(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment()
    await sandbox.control.succeed(payment["id"])

    with pytest.raises(SandboxControlError):
        await sandbox.control.succeed(payment["id"])
    with pytest.raises(SandboxControlError):
        await sandbox.control.cancel(payment["id"])
    assert (await get(sandbox, f"payments/{payment['id']}"))["status"] == "succeeded"


class TestTwoStage:
    async def authorized(self, sandbox: Sandbox) -> Any:
        payment = await sandbox.create_payment(capture=False)
        held = await sandbox.control.succeed(payment["id"])
        assert held["status"] == "waiting_for_capture"
        return held

    async def test_paying_holds_the_money_until_capture(self, sandbox: Sandbox) -> None:
        held = await self.authorized(sandbox)
        await sandbox.control.wait_delivered(held["id"], "payment.waiting_for_capture")

        assert held["paid"] is True
        assert held["refundable"] is False
        assert TIMESTAMP.fullmatch(held["expires_at"])
        assert "captured_at" not in held
        assert "income_amount" not in held
        assert sandbox.receiver.received[0].body["object"] == held

    async def test_capture_completes_the_payment(self, sandbox: Sandbox) -> None:
        held = await self.authorized(sandbox)

        captured = await post(sandbox, f"payments/{held['id']}/capture")
        await sandbox.control.wait_delivered(held["id"], "payment.succeeded")

        assert captured.status_code == 200
        assert captured.json()["status"] == "succeeded"
        assert captured.json()["income_amount"] == {"value": "288.54", "currency": "RUB"}
        assert "expires_at" not in captured.json()
        assert sandbox.receiver.events(held["id"]) == [
            "payment.waiting_for_capture",
            "payment.succeeded",
        ]

    async def test_partial_capture(self, sandbox: Sandbox) -> None:
        held = await self.authorized(sandbox)

        captured = await post(
            sandbox,
            f"payments/{held['id']}/capture",
            {"amount": {"value": "100.00", "currency": "RUB"}},
        )

        assert captured.json()["amount"] == {"value": "100.00", "currency": "RUB"}
        assert captured.json()["income_amount"] == {"value": "96.50", "currency": "RUB"}

    @pytest.mark.parametrize(
        ("amount", "parameter"),
        [
            ({"value": "299.01", "currency": "RUB"}, "amount.value"),
            ({"value": "100.00", "currency": "USD"}, "amount.currency"),
        ],
    )
    async def test_capture_more_or_in_another_currency_is_400(
        self, sandbox: Sandbox, amount: dict[str, str], parameter: str
    ) -> None:
        held = await self.authorized(sandbox)

        response = await post(sandbox, f"payments/{held['id']}/capture", {"amount": amount})

        assert response.status_code == 400
        assert response.json()["parameter"] == parameter

    async def test_merchant_cancel_releases_the_money(self, sandbox: Sandbox) -> None:
        held = await self.authorized(sandbox)

        response = await post(sandbox, f"payments/{held['id']}/cancel")

        assert response.status_code == 200
        assert response.json()["status"] == "canceled"
        assert response.json()["paid"] is False
        assert response.json()["cancellation_details"] == {
            "party": "merchant",
            "reason": "canceled_by_merchant",
        }
        await sandbox.control.wait_delivered(held["id"], "payment.canceled")

    @pytest.mark.parametrize("action", ["capture", "cancel"])
    async def test_capture_or_cancel_outside_waiting_for_capture_is_400(
        self, sandbox: Sandbox, action: str
    ) -> None:
        pending = await sandbox.create_payment(capture=False)
        succeeded = await sandbox.create_payment()
        await sandbox.control.succeed(succeeded["id"])
        canceled = await self.authorized(sandbox)
        await post(sandbox, f"payments/{canceled['id']}/cancel")

        for payment in (pending, succeeded, canceled):
            response = await post(sandbox, f"payments/{payment['id']}/{action}")
            assert response.status_code == 400, payment["status"]
            assert response.json()["code"] == "invalid_request"

    async def test_an_uncaptured_payment_expires(self, sandbox: Sandbox) -> None:
        held = await self.authorized(sandbox)

        await sandbox.control.advance_clock(7 * 24 * 3600)
        await sandbox.control.wait_delivered(held["id"], "payment.canceled")

        expired = await get(sandbox, f"payments/{held['id']}")
        assert expired["status"] == "canceled"
        assert expired["cancellation_details"] == {
            "party": "yoo_money",
            "reason": "expired_on_capture",
        }


class TestAutopayments:
    async def saved_method(self, sandbox: Sandbox) -> str:
        first = await sandbox.create_payment(save_payment_method=True)
        paid = await sandbox.control.succeed(first["id"])
        assert paid["payment_method"]["saved"] is True
        return str(paid["payment_method"]["id"])

    async def test_a_saved_method_is_charged_without_confirmation(self, sandbox: Sandbox) -> None:
        method_id = await self.saved_method(sandbox)

        response = await post(
            sandbox,
            "payments",
            {
                "amount": {"value": "299.00", "currency": "RUB"},
                "capture": True,
                "payment_method_id": method_id,
                "description": "VPN, продление, заказ 1107",
                "metadata": {"order_id": "1107"},
            },
        )
        await sandbox.control.wait_delivered(response.json()["id"], "payment.succeeded")

        renewal = response.json()
        assert renewal["status"] == "succeeded"
        assert renewal["id"] != method_id
        assert renewal["payment_method"]["id"] == method_id
        assert renewal["payment_method"]["saved"] is True
        assert "confirmation" not in renewal

    async def test_a_revoked_method_fails_with_permission_revoked(self, sandbox: Sandbox) -> None:
        method_id = await self.saved_method(sandbox)
        await sandbox.control.revoke_payment_method(method_id)

        response = await post(
            sandbox,
            "payments",
            {"amount": {"value": "299.00", "currency": "RUB"}, "payment_method_id": method_id},
        )

        assert response.json()["status"] == "canceled"
        assert response.json()["cancellation_details"] == {
            "party": "yoo_money",
            "reason": "permission_revoked",
        }

    async def test_an_unknown_method_is_400(self, sandbox: Sandbox) -> None:
        response = await post(
            sandbox,
            "payments",
            {
                "amount": {"value": "299.00", "currency": "RUB"},
                "payment_method_id": "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f",
            },
        )

        assert response.status_code == 400
        assert response.json()["parameter"] == "payment_method_id"

    async def test_a_method_that_cannot_be_saved_is_not(self, sandbox: Sandbox) -> None:
        payment = await sandbox.create_payment(save_payment_method=True)

        paid = await sandbox.control.succeed(payment["id"], payment_method_type="tinkoff_bank")

        assert paid["payment_method"] == {
            "type": "tinkoff_bank",
            "id": payment["id"],
            "saved": False,
        }

    async def test_autopayments_can_be_forbidden(self, sandbox: Sandbox) -> None:
        await sandbox.control.configure_shop(SHOP_ID, autopayments_enabled=False)

        response = await post(
            sandbox,
            "payments",
            {
                "amount": {"value": "299.00", "currency": "RUB"},
                "confirmation": {"type": "embedded"},
                "save_payment_method": True,
            },
        )

        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"


class TestRefunds:
    async def paid(self, sandbox: Sandbox) -> Any:
        payment = await sandbox.create_payment()
        return await sandbox.control.succeed(payment["id"])

    async def refund(self, sandbox: Sandbox, payment_id: str, value: str) -> httpx.Response:
        return await post(
            sandbox,
            "refunds",
            {
                "payment_id": payment_id,
                "amount": {"value": value, "currency": "RUB"},
                "description": "Возврат по заявке 55",
            },
        )

    async def test_a_partial_refund(self, sandbox: Sandbox) -> None:
        payment = await self.paid(sandbox)

        response = await self.refund(sandbox, payment["id"], "100.00")
        await sandbox.control.wait_delivered(payment["id"], "refund.succeeded")

        refund = response.json()
        assert response.status_code == 200
        assert refund.keys() == REFUND.keys() - {"receipt_registration"}
        assert REFUND_ID.fullmatch(refund["id"])
        assert refund["payment_id"] == payment["id"]
        assert refund["status"] == "succeeded"
        assert refund["amount"] == {"value": "100.00", "currency": "RUB"}
        assert await get(sandbox, f"refunds/{refund['id']}") == refund
        after = await get(sandbox, f"payments/{payment['id']}")
        assert after["refunded_amount"] == {"value": "100.00", "currency": "RUB"}
        assert after["refundable"] is True
        assert after["status"] == "succeeded"
        notification = sandbox.receiver.received[-1].body
        assert notification == {
            "type": "notification",
            "event": "refund.succeeded",
            "object": refund,
        }

    async def test_refunding_everything_makes_the_payment_unrefundable(
        self, sandbox: Sandbox
    ) -> None:
        payment = await self.paid(sandbox)

        assert (await self.refund(sandbox, payment["id"], "200.00")).status_code == 200
        too_much = await self.refund(sandbox, payment["id"], "99.01")
        rest = await self.refund(sandbox, payment["id"], "99.00")
        nothing_left = await self.refund(sandbox, payment["id"], "0.01")

        assert too_much.status_code == 400
        assert too_much.json()["parameter"] == "amount.value"
        assert rest.status_code == 200
        assert nothing_left.status_code == 400
        after = await get(sandbox, f"payments/{payment['id']}")
        assert after["refunded_amount"] == {"value": "299.00", "currency": "RUB"}
        assert after["refundable"] is False

    async def test_only_a_succeeded_payment_can_be_refunded(self, sandbox: Sandbox) -> None:
        pending = await sandbox.create_payment()

        response = await self.refund(sandbox, pending["id"], "1.00")
        unknown = await self.refund(sandbox, "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f", "1.00")

        assert response.status_code == 400
        assert response.json()["parameter"] == "payment_id"
        assert unknown.status_code == 400
        assert unknown.json()["parameter"] == "payment_id"

    async def test_refund_list_by_payment(self, sandbox: Sandbox) -> None:
        first = await self.paid(sandbox)
        second = await self.paid(sandbox)
        ids = [
            (await self.refund(sandbox, payment["id"], "1.00")).json()["id"]
            for payment in (first, second, first)
        ]

        of_first = await get(sandbox, f"refunds?payment_id={first['id']}")
        all_refunds = await get(sandbox, "refunds?limit=2")

        assert [r["id"] for r in of_first["items"]] == [ids[2], ids[0]]
        assert [r["id"] for r in all_refunds["items"]] == [ids[2], ids[1]]
        assert "next_cursor" in all_refunds
        assert (await sandbox.api.get("refunds/nope")).status_code == 404

    async def test_with_fiscalization_a_refund_needs_a_receipt(self, sandbox: Sandbox) -> None:
        api = sandbox.receipt_api
        created = await api.post(
            "payments",
            json={
                "amount": {"value": "299.00", "currency": "RUB"},
                "capture": True,
                "confirmation": {"type": "embedded"},
                "receipt": receipt(),
            },
            headers={"Idempotence-Key": str(uuid.uuid4())},
        )
        await sandbox.control.succeed(created.json()["id"])

        async def refund(body: dict[str, Any]) -> httpx.Response:
            return await api.post(
                "refunds", json=body, headers={"Idempotence-Key": str(uuid.uuid4())}
            )

        amount = {"value": "299.00", "currency": "RUB"}
        without = await refund({"payment_id": created.json()["id"], "amount": amount})
        wrong_sum = await refund(
            {"payment_id": created.json()["id"], "amount": amount, "receipt": receipt("1.00")}
        )
        with_receipt = await refund(
            {"payment_id": created.json()["id"], "amount": amount, "receipt": receipt()}
        )

        assert without.status_code == wrong_sum.status_code == 400
        assert without.json()["description"] == "Receipt is missing or illegal"
        assert with_receipt.status_code == 200
        assert with_receipt.json().keys() == REFUND.keys() - {"description"}
        assert with_receipt.json()["receipt_registration"] == "succeeded"
