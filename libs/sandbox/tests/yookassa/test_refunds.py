"""Refunds: amounts, idempotence, notifications, and refunds the bank holds or declines."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import httpx
import pytest

from sandbox.yookassa import SandboxControlError

from .conftest import FAST_DELIVERY, Sandbox, new_key
from .spec_samples import IDEMPOTENCE_KEY_DUPLICATED, REFUND_ID


def refund_body(payment_id: str, value: str, **fields: Any) -> dict[str, Any]:
    return {"payment_id": payment_id, "amount": {"value": value, "currency": "RUB"}, **fields}


async def paid(sandbox: Sandbox) -> Any:
    payment = await sandbox.create_payment()
    return await sandbox.control.succeed(payment["id"])


async def refund(
    sandbox: Sandbox, payment_id: str, value: str, *, key: str | None = None
) -> httpx.Response:
    return await sandbox.post("refunds", refund_body(payment_id, value), key=key)


async def payment(sandbox: Sandbox, payment_id: str) -> Any:
    return (await sandbox.api.get(f"payments/{payment_id}")).json()


async def test_a_full_refund_leaves_nothing_refundable(sandbox: Sandbox) -> None:
    original = await paid(sandbox)

    response = await refund(sandbox, original["id"], "299.00")
    after = await payment(sandbox, original["id"])
    again = await refund(sandbox, original["id"], "0.01")

    assert response.status_code == 200
    assert REFUND_ID.fullmatch(response.json()["id"])
    assert response.json()["status"] == "succeeded"
    assert after["status"] == "succeeded"
    assert after["refunded_amount"] == {"value": "299.00", "currency": "RUB"}
    assert after["refundable"] is False
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_request"
    assert again.json()["parameter"] == "amount.value"


async def test_partial_refunds_add_up(sandbox: Sandbox) -> None:
    original = await paid(sandbox)

    amounts = []
    for value in ("100.00", "50.50"):
        assert (await refund(sandbox, original["id"], value)).status_code == 200
        amounts.append((await payment(sandbox, original["id"]))["refunded_amount"]["value"])

    assert amounts == ["100.00", "150.50"]
    assert (await payment(sandbox, original["id"]))["refundable"] is True


async def test_more_than_is_left_is_refused_and_changes_nothing(sandbox: Sandbox) -> None:
    original = await paid(sandbox)
    await refund(sandbox, original["id"], "200.00")

    too_much = await refund(sandbox, original["id"], "99.01")
    in_dollars = await sandbox.post(
        "refunds",
        {"payment_id": original["id"], "amount": {"value": "1.00", "currency": "USD"}},
    )

    assert too_much.status_code == in_dollars.status_code == 400
    assert too_much.json()["parameter"] == "amount.value"
    assert in_dollars.json()["parameter"] == "amount.currency"
    after = await payment(sandbox, original["id"])
    assert after["refunded_amount"] == {"value": "200.00", "currency": "RUB"}
    state = await sandbox.control.payment(original["id"])
    assert len(state["refunds"]) == 1


class TestIdempotence:
    async def test_the_same_key_and_body_refund_once(self, sandbox: Sandbox) -> None:
        original = await paid(sandbox)
        key = new_key()

        first = await refund(sandbox, original["id"], "100.00", key=key)
        again = await refund(sandbox, original["id"], "100.00", key=key)

        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()
        after = await payment(sandbox, original["id"])
        assert after["refunded_amount"] == {"value": "100.00", "currency": "RUB"}
        await sandbox.control.wait_delivered(original["id"], "refund.succeeded")
        await asyncio.sleep(0.05)
        assert len(await sandbox.control.deliveries(original["id"], event="refund.succeeded")) == 1

    async def test_the_same_key_with_another_amount_is_duplicated(self, sandbox: Sandbox) -> None:
        original = await paid(sandbox)
        key = new_key()
        await refund(sandbox, original["id"], "100.00", key=key)

        response = await refund(sandbox, original["id"], "50.00", key=key)

        assert response.status_code == 400
        body = response.json()
        assert {k: body[k] for k in ("code", "description", "parameter")} == {
            k: IDEMPOTENCE_KEY_DUPLICATED[k] for k in ("code", "description", "parameter")
        }
        assert (await payment(sandbox, original["id"]))["refunded_amount"]["value"] == "100.00"

    async def test_another_key_is_another_refund(self, sandbox: Sandbox) -> None:
        original = await paid(sandbox)

        first = await refund(sandbox, original["id"], "100.00")
        second = await refund(sandbox, original["id"], "100.00")

        assert first.json()["id"] != second.json()["id"]
        assert (await payment(sandbox, original["id"]))["refunded_amount"]["value"] == "200.00"

    async def test_a_refused_refund_is_replayed_even_once_possible(self, sandbox: Sandbox) -> None:
        pending = await sandbox.create_payment()
        key = new_key()

        refused = await refund(sandbox, pending["id"], "299.00", key=key)
        await sandbox.control.succeed(pending["id"])
        replayed = await refund(sandbox, pending["id"], "299.00", key=key)

        assert refused.status_code == replayed.status_code == 400
        assert replayed.json() == refused.json()

    async def test_a_lost_answer_is_recovered_with_the_same_key(self, sandbox: Sandbox) -> None:
        original = await paid(sandbox)
        await sandbox.control.fail_next("create_refund", status=500, executed=True)
        key = new_key()

        lost = await refund(sandbox, original["id"], "299.00", key=key)
        recovered = await refund(sandbox, original["id"], "299.00", key=key)

        assert lost.status_code == 500
        assert recovered.status_code == 200
        assert [r["id"] for r in (await sandbox.control.payment(original["id"]))["refunds"]] == [
            recovered.json()["id"]
        ]


class TestNotifications:
    async def test_refund_succeeded_carries_the_refund(self, sandbox: Sandbox) -> None:
        original = await paid(sandbox)

        created = (await refund(sandbox, original["id"], "100.00")).json()
        [delivery] = await sandbox.control.wait_delivered(original["id"], "refund.succeeded")

        assert delivery.object_id == created["id"]
        assert delivery.payment_id == original["id"]
        notification = sandbox.receiver.received[-1].body
        assert notification == {
            "type": "notification",
            "event": "refund.succeeded",
            "object": created,
        }
        state = await sandbox.control.payment(original["id"])
        assert state["events"] == ["payment.succeeded", "refund.succeeded"]

    async def test_a_refused_refund_notification_is_retried(self, sandbox: Sandbox) -> None:
        original = await paid(sandbox)
        await sandbox.control.wait_delivered(original["id"], "payment.succeeded")
        sandbox.receiver.planned_statuses.extend([500, 404])

        created = (await refund(sandbox, original["id"], "100.00")).json()
        await sandbox.control.wait_delivered(original["id"], "refund.succeeded")

        attempts = await sandbox.control.deliveries(original["id"], event="refund.succeeded")
        assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 404), (3, 200)]
        assert {a.object_id for a in attempts} == {created["id"]}
        gaps = [later.started_at - earlier.started_at for earlier, later in pairwise(attempts)]
        assert gaps[0] >= FAST_DELIVERY.first_retry_delay * 0.9
        assert gaps[1] > gaps[0]


class TestHeldAndDeclinedRefunds:
    async def test_a_pending_refund_holds_its_amount_until_it_succeeds(
        self, sandbox: Sandbox
    ) -> None:
        original = await paid(sandbox)
        planned = await sandbox.control.plan_refunds(original["id"])

        held = (await refund(sandbox, original["id"], "200.00")).json()
        during = await payment(sandbox, original["id"])
        over = await refund(sandbox, original["id"], "99.01")
        await asyncio.sleep(0.05)
        notified_early = await sandbox.control.deliveries(original["id"], event="refund.succeeded")
        settled = await sandbox.control.succeed_refund(held["id"])
        await sandbox.control.wait_delivered(original["id"], "refund.succeeded")
        after = await payment(sandbox, original["id"])

        assert planned == [{"status": "pending"}]
        assert held["status"] == "pending"
        assert during["refunded_amount"] == {"value": "0.00", "currency": "RUB"}
        assert during["refundable"] is True
        assert over.status_code == 400
        assert notified_early == []
        assert settled["status"] == "succeeded"
        assert settled["id"] == held["id"]
        assert (await sandbox.api.get(f"refunds/{held['id']}")).json() == settled
        assert sandbox.receiver.received[-1].body["object"] == settled
        assert after["refunded_amount"] == {"value": "200.00", "currency": "RUB"}

    async def test_a_declined_pending_refund_frees_its_amount(self, sandbox: Sandbox) -> None:
        original = await paid(sandbox)
        await sandbox.control.plan_refunds(original["id"])
        held = (await refund(sandbox, original["id"], "299.00")).json()

        declined = await sandbox.control.cancel_refund(
            held["id"], reason="rejected_by_payee", party="payment_network"
        )
        after = await payment(sandbox, original["id"])
        retried = await refund(sandbox, original["id"], "299.00")

        assert declined["status"] == "canceled"
        assert declined["cancellation_details"] == {
            "party": "payment_network",
            "reason": "rejected_by_payee",
        }
        assert (await sandbox.api.get(f"refunds/{held['id']}")).json() == declined
        assert after["refunded_amount"] == {"value": "0.00", "currency": "RUB"}
        assert after["refundable"] is True
        assert retried.json()["status"] == "succeeded"

    async def test_a_planned_decline_answers_canceled_and_is_not_notified(
        self, sandbox: Sandbox
    ) -> None:
        original = await paid(sandbox)
        await sandbox.control.wait_delivered(original["id"], "payment.succeeded")
        await sandbox.control.plan_refunds(
            original["id"], "canceled", reason="insufficient_funds", party="yoo_money"
        )

        declined = (await refund(sandbox, original["id"], "299.00")).json()
        await asyncio.sleep(0.1)

        assert declined["status"] == "canceled"
        assert declined["cancellation_details"] == {
            "party": "yoo_money",
            "reason": "insufficient_funds",
        }
        assert await sandbox.control.deliveries(original["id"], event="refund.succeeded") == []
        assert sandbox.receiver.events(original["id"]) == ["payment.succeeded"]
        state = await sandbox.control.payment(original["id"])
        assert state["planned_refunds"] == []
        assert state["payment"]["refundable"] is True
        listed = (await sandbox.api.get("refunds", params={"status": "canceled"})).json()
        assert [r["id"] for r in listed["items"]] == [declined["id"]]

    async def test_only_a_pending_refund_can_be_settled(self, sandbox: Sandbox) -> None:
        original = await paid(sandbox)
        done = (await refund(sandbox, original["id"], "1.00")).json()

        for settle in (
            sandbox.control.succeed_refund(done["id"]),
            sandbox.control.cancel_refund(done["id"]),
            sandbox.control.succeed_refund("no-such-refund"),
        ):
            with pytest.raises(SandboxControlError) as refused:
                await settle
            assert refused.value.status_code in (400, 404)

    @pytest.mark.parametrize(
        "plan",
        [
            {"status": "succeeded"},
            {"status": "canceled", "reason": "expired_on_capture"},
            {"status": "canceled", "party": "merchant"},
            {"count": 101},
        ],
    )
    async def test_a_bad_refund_plan_is_refused(
        self, sandbox: Sandbox, plan: dict[str, Any]
    ) -> None:
        original = await paid(sandbox)

        with pytest.raises(SandboxControlError) as refused:
            await sandbox.control.plan_refunds(original["id"], **plan)

        assert refused.value.status_code == 400
        assert (await sandbox.control.payment(original["id"]))["planned_refunds"] == []
