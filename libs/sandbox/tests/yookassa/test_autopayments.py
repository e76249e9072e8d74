"""Saved payment methods: saving one, charging it without the user, and the bank's answers."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.yookassa import SandboxControlError

from .conftest import RECEIPT_SHOP_ID, SHOP_ID, Sandbox, payment_body, receipt


def renewal(method_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "amount": {"value": "299.00", "currency": "RUB"},
        "capture": True,
        "payment_method_id": method_id,
        "description": "VPN, продление, заказ 1107",
        "metadata": {"order_id": "1107"},
        **fields,
    }


async def saved_method(sandbox: Sandbox, **fields: Any) -> str:
    first = await sandbox.create_payment(save_payment_method=True, **fields)
    paid = await sandbox.control.succeed(first["id"])
    assert paid["payment_method"]["saved"] is True
    return str(paid["payment_method"]["id"])


async def test_the_saved_method_id_is_the_first_payment_id(sandbox: Sandbox) -> None:
    first = await sandbox.create_payment(save_payment_method=True)
    assert "saved" not in (first.get("payment_method") or {})

    paid = await sandbox.control.succeed(first["id"])
    method = await sandbox.control.payment_method(first["id"])
    state = await sandbox.control.payment(first["id"])

    assert paid["payment_method"]["id"] == first["id"]
    assert paid["payment_method"]["saved"] is True
    assert method == {
        "id": first["id"],
        "shop_id": SHOP_ID,
        "type": "bank_card",
        "revoked": False,
        "planned_charges": [],
        "charges": [],
    }
    assert state["saved_payment_method"] == {"id": first["id"], "revoked": False}


async def test_without_save_payment_method_nothing_is_saved(sandbox: Sandbox) -> None:
    first = await sandbox.create_payment()
    paid = await sandbox.control.succeed(first["id"])

    response = await sandbox.post("payments", renewal(first["id"]))

    assert paid["payment_method"]["saved"] is False
    assert response.status_code == 400
    assert response.json()["parameter"] == "payment_method_id"


async def test_a_two_stage_first_payment_saves_the_method_once_authorized(
    sandbox: Sandbox,
) -> None:
    held = await sandbox.create_payment(save_payment_method=True, capture=False)
    await sandbox.control.succeed(held["id"])
    await sandbox.post(f"payments/{held['id']}/cancel")

    charged = await sandbox.post("payments", renewal(held["id"]))

    assert charged.json()["status"] == "succeeded"


async def test_an_autopayment_succeeds_at_once_and_is_notified(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)

    response = await sandbox.post("payments", renewal(method_id))
    charge = response.json()
    [delivery] = await sandbox.control.wait_delivered(charge["id"], "payment.succeeded")

    assert response.status_code == 200
    assert charge["status"] == "succeeded"
    assert charge["paid"] is True
    assert "confirmation" not in charge
    assert charge["payment_method"]["id"] == method_id
    assert charge["payment_method"]["saved"] is True
    assert charge["income_amount"] == {"value": "288.54", "currency": "RUB"}
    assert delivery.object_id == charge["id"]
    assert sandbox.receiver.received[-1].body["object"] == charge
    state = await sandbox.control.payment(charge["id"])
    assert state["payment_method_id"] == method_id
    assert state["saved_payment_method"] is None
    assert (await sandbox.control.payment_method(method_id))["charges"] == [charge["id"]]


async def test_a_two_stage_autopayment_waits_for_capture(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)

    charge = (await sandbox.post("payments", renewal(method_id, capture=False))).json()
    captured = await sandbox.post(f"payments/{charge['id']}/capture")

    assert charge["status"] == "waiting_for_capture"
    assert "confirmation" not in charge
    assert captured.json()["status"] == "succeeded"


async def test_a_planned_decline_cancels_the_next_charge_only(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)
    planned = await sandbox.control.plan_charges(method_id, reason="insufficient_funds")

    declined = (await sandbox.post("payments", renewal(method_id))).json()
    await sandbox.control.wait_delivered(declined["id"], "payment.canceled")
    next_one = (await sandbox.post("payments", renewal(method_id))).json()

    assert planned["planned_charges"] == [
        {
            "status": "canceled",
            "cancellation_details": {"party": "payment_network", "reason": "insufficient_funds"},
        }
    ]
    assert declined["status"] == "canceled"
    assert declined["paid"] is False
    assert declined["refundable"] is False
    assert declined["cancellation_details"] == {
        "party": "payment_network",
        "reason": "insufficient_funds",
    }
    assert declined["payment_method"]["id"] == method_id
    assert "confirmation" not in declined
    assert next_one["status"] == "succeeded"
    assert (await sandbox.control.payment_method(method_id))["planned_charges"] == []


async def test_charges_can_be_planned_before_the_method_is_saved(sandbox: Sandbox) -> None:
    """A test decides the first renewals before the customer pays: nothing can race it."""
    first = await sandbox.create_payment(save_payment_method=True)
    await sandbox.control.plan_charges(first["id"], reason="insufficient_funds")
    await sandbox.control.succeed(first["id"])

    declined = (await sandbox.post("payments", renewal(first["id"]))).json()
    paid = (await sandbox.post("payments", renewal(first["id"]))).json()

    assert declined["cancellation_details"]["reason"] == "insufficient_funds"
    assert paid["status"] == "succeeded"


async def test_charges_cannot_be_planned_for_a_payment_that_saves_nothing(
    sandbox: Sandbox,
) -> None:
    once = await sandbox.create_payment()
    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.plan_charges(once["id"])
    assert refused.value.status_code == 404


async def test_planned_declines_come_in_order_with_their_party(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)
    await sandbox.control.plan_charges(method_id, reason="card_expired", count=2)
    await sandbox.control.plan_charges(method_id, reason="fraud_suspected", party="yoo_money")

    details = [
        (await sandbox.post("payments", renewal(method_id))).json().get("cancellation_details")
        for _ in range(4)
    ]

    assert details == [
        {"party": "payment_network", "reason": "card_expired"},
        {"party": "payment_network", "reason": "card_expired"},
        {"party": "yoo_money", "reason": "fraud_suspected"},
        None,
    ]


async def test_a_held_charge_stays_pending_until_the_bank_answers(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)
    await sandbox.control.plan_charges(method_id, "pending", count=2)

    first = (await sandbox.post("payments", renewal(method_id))).json()
    second = (await sandbox.post("payments", renewal(method_id))).json()
    paid = await sandbox.control.succeed(first["id"])
    declined = await sandbox.control.cancel(
        second["id"], reason="insufficient_funds", party="payment_network"
    )
    await sandbox.control.wait_delivered(first["id"], "payment.succeeded")

    assert first["status"] == second["status"] == "pending"
    assert "confirmation" not in first
    assert first["payment_method"]["id"] == method_id
    assert paid["status"] == "succeeded"
    assert paid["payment_method"] == first["payment_method"]
    assert declined["cancellation_details"]["reason"] == "insufficient_funds"
    assert sandbox.receiver.events(second["id"]) == ["payment.canceled"]


async def test_a_held_charge_is_paid_with_its_saved_method_only(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)
    await sandbox.control.plan_charges(method_id, "pending")
    charge = (await sandbox.post("payments", renewal(method_id))).json()

    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.succeed(charge["id"], payment_method_type="yoo_money")

    assert refused.value.status_code == 400


async def test_a_revoked_method_gives_canceled_charges_forever(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)
    await sandbox.control.revoke_payment_method(method_id)

    charges = [(await sandbox.post("payments", renewal(method_id))).json() for _ in range(2)]
    await sandbox.control.wait_delivered(charges[0]["id"], "payment.canceled")

    for charge in charges:
        assert charge["status"] == "canceled"
        assert charge["cancellation_details"] == {
            "party": "yoo_money",
            "reason": "permission_revoked",
        }
        assert charge["payment_method"]["id"] == method_id
    method = await sandbox.control.payment_method(method_id)
    assert method["revoked"] is True
    assert method["charges"] == [charge["id"] for charge in charges]


async def test_a_revoked_method_wins_over_a_planned_outcome(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)
    await sandbox.control.plan_charges(method_id, "pending")
    await sandbox.control.revoke_payment_method(method_id)

    charge = (await sandbox.post("payments", renewal(method_id))).json()

    assert charge["cancellation_details"]["reason"] == "permission_revoked"
    assert len((await sandbox.control.payment_method(method_id))["planned_charges"]) == 1


async def test_a_planned_permission_revoked_is_reported_by_yoo_money(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)
    await sandbox.control.plan_charges(method_id, reason="permission_revoked")

    charge = (await sandbox.post("payments", renewal(method_id))).json()

    assert charge["cancellation_details"] == {"party": "yoo_money", "reason": "permission_revoked"}


async def test_another_shops_method_is_unknown(sandbox: Sandbox) -> None:
    method_id = await saved_method(sandbox)

    response = await sandbox.post(
        "payments", renewal(method_id, receipt=receipt()), api=sandbox.receipt_api
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["parameter"] == "payment_method_id"


async def test_an_autopayment_of_a_fiscal_shop_needs_a_receipt(sandbox: Sandbox) -> None:
    first = await sandbox.receipt_api.post(
        "payments",
        json=payment_body(save_payment_method=True, receipt=receipt()),
        headers={"Idempotence-Key": "first"},
    )
    await sandbox.control.succeed(first.json()["id"])

    without = await sandbox.post("payments", renewal(first.json()["id"]), api=sandbox.receipt_api)
    with_receipt = await sandbox.post(
        "payments", renewal(first.json()["id"], receipt=receipt()), api=sandbox.receipt_api
    )

    assert without.status_code == 400
    assert without.json()["parameter"] == "receipt"
    assert with_receipt.json()["status"] == "succeeded"
    assert with_receipt.json()["receipt_registration"] == "succeeded"
    state = await sandbox.control.payment(with_receipt.json()["id"])
    assert state["shop_id"] == RECEIPT_SHOP_ID
    assert state["receipt"]["customer"] == {"email": "user@example.com"}


@pytest.mark.parametrize(
    ("plan", "status_code"),
    [
        ({"status": "succeeded"}, 400),
        ({"reason": "bored"}, 400),
        ({"party": "the_user"}, 400),
        ({"count": 0}, 400),
    ],
)
async def test_a_bad_charge_plan_is_refused(
    sandbox: Sandbox, plan: dict[str, Any], status_code: int
) -> None:
    method_id = await saved_method(sandbox)

    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.plan_charges(method_id, **plan)

    assert refused.value.status_code == status_code
    assert (await sandbox.control.payment_method(method_id))["planned_charges"] == []


async def test_an_unknown_method_cannot_be_planned_or_revoked(sandbox: Sandbox) -> None:
    unknown = "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f"

    for call in (
        sandbox.control.plan_charges(unknown),
        sandbox.control.revoke_payment_method(unknown),
        sandbox.control.payment_method(unknown),
    ):
        with pytest.raises(SandboxControlError) as refused:
            await call
        assert refused.value.status_code == 404
