"""Failures a client must survive: an outage of the whole API, and single 500 or 429 answers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from sandbox.yookassa import SandboxControlError

from .conftest import Sandbox, new_key, payment_body
from .spec_samples import ERROR_ID


async def payment_ids(sandbox: Sandbox) -> list[str]:
    page = (await sandbox.api.get("payments", params={"limit": "100"})).json()
    return [item["id"] for item in page["items"]]


def assert_json_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == "error"
    assert ERROR_ID.fullmatch(body["id"])
    assert body["code"] == code
    assert body["description"]
    return body


class TestOutage:
    async def test_the_api_answers_like_the_proxy_while_the_control_api_works(
        self, sandbox: Sandbox
    ) -> None:
        state = await sandbox.control.outage()

        read = await sandbox.api.get("me")
        write = await sandbox.post("payments", payment_body())
        controllable = await sandbox.control.shops()
        during = await sandbox.control.outage_state()
        await sandbox.control.restore()
        recovered = await sandbox.api.get("me")

        assert state["active"] is True
        assert (state["mode"], state["status"]) == ("error", 502)
        assert read.status_code == write.status_code == 502
        assert "<title>502 Bad Gateway</title>" in read.text
        assert len(controllable) == 2
        assert during["active"] is True
        assert recovered.status_code == 200
        assert await sandbox.control.outage_state() == {"active": False}
        assert await payment_ids(sandbox) == []

    async def test_a_500_outage_is_a_bare_internal_server_error(self, sandbox: Sandbox) -> None:
        await sandbox.control.outage(status=500)

        response = await sandbox.api.get("me")

        assert response.status_code == 500
        assert response.text == "Internal Server Error"

    async def test_timeout_mode_holds_requests_until_restored(self, sandbox: Sandbox) -> None:
        await sandbox.control.outage("timeout")
        key = new_key()

        with pytest.raises(httpx.ReadTimeout):
            await sandbox.api.post(
                "payments",
                json=payment_body(),
                headers={"Idempotence-Key": key},
                timeout=0.2,
            )
        waiting = asyncio.create_task(sandbox.post("payments", payment_body(), key=key))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await sandbox.control.restore()
        answered = await asyncio.wait_for(waiting, 2)

        assert answered.status_code == 200
        assert await payment_ids(sandbox) == [answered.json()["id"]]

    async def test_timeout_mode_with_a_delay_answers_late(self, sandbox: Sandbox) -> None:
        await sandbox.control.outage("timeout", delay_s=0.3)

        started = time.perf_counter()
        response = await sandbox.api.get("me")

        assert response.status_code == 200
        assert time.perf_counter() - started >= 0.3

    async def test_reset_ends_the_outage(self, sandbox: Sandbox) -> None:
        await sandbox.control.outage()

        await sandbox.control.reset(keep_shops=True)

        assert (await sandbox.api.get("me")).status_code == 200

    @pytest.mark.parametrize(
        "body",
        [{"status": 404}, {"mode": "refused"}, {"delay_s": -1}, {"status": "502"}],
    )
    async def test_the_control_api_checks_its_input(
        self, sandbox: Sandbox, body: dict[str, Any]
    ) -> None:
        response = await sandbox.api.put(f"{sandbox.url}/sandbox/outage", json=body)

        assert response.status_code == 400
        assert (await sandbox.control.outage_state())["active"] is False


class TestPlannedFailures:
    async def test_an_unexecuted_500_creates_nothing_and_the_repeat_creates_once(
        self, sandbox: Sandbox
    ) -> None:
        await sandbox.control.fail_next("create_payment", status=500)
        key = new_key()

        failed = await sandbox.post("payments", payment_body(), key=key)
        nothing = await payment_ids(sandbox)
        repeated = await sandbox.post("payments", payment_body(), key=key)
        again = await sandbox.post("payments", payment_body(), key=key)

        assert_json_error(failed, 500, "internal_server_error")
        assert nothing == []
        assert repeated.status_code == 200
        assert again.json() == repeated.json()
        assert await payment_ids(sandbox) == [repeated.json()["id"]]

    async def test_an_executed_500_loses_only_the_answer(self, sandbox: Sandbox) -> None:
        await sandbox.control.fail_next("create_payment", status=500, executed=True)
        key = new_key()

        failed = await sandbox.post("payments", payment_body(), key=key)
        [created] = await payment_ids(sandbox)
        repeated = await sandbox.post("payments", payment_body(), key=key)

        assert_json_error(failed, 500, "internal_server_error")
        assert repeated.status_code == 200
        assert repeated.json()["id"] == created
        assert await payment_ids(sandbox) == [created]

    async def test_the_next_n_calls_fail_then_the_api_answers(self, sandbox: Sandbox) -> None:
        planned = await sandbox.control.fail_next("create_payment", status=500, count=2)
        key = new_key()

        answers = [await sandbox.post("payments", payment_body(), key=key) for _ in range(3)]

        assert planned == [
            {"operation": "create_payment", "status": 500, "remaining": 2, "executed": False}
        ]
        assert [a.status_code for a in answers] == [500, 500, 200]
        assert await sandbox.control.faults() == []

    async def test_429_is_too_many_requests_and_nothing_is_done(self, sandbox: Sandbox) -> None:
        await sandbox.control.fail_next("create_payment", status=429)

        limited = await sandbox.post("payments", payment_body())

        assert_json_error(limited, 429, "too_many_requests")
        assert await payment_ids(sandbox) == []
        assert (await sandbox.post("payments", payment_body())).status_code == 200

    async def test_only_the_planned_operation_fails(self, sandbox: Sandbox) -> None:
        await sandbox.control.fail_next("create_refund", status=500)

        created = await sandbox.post("payments", payment_body())
        listed = await sandbox.api.get("payments")

        assert created.status_code == listed.status_code == 200
        assert len(await sandbox.control.faults()) == 1

    async def test_capture_and_cancel_can_fail_too(self, sandbox: Sandbox) -> None:
        payment = await sandbox.create_payment(capture=False)
        await sandbox.control.succeed(payment["id"])
        await sandbox.control.fail_next("capture_payment", status=500, executed=True)
        key = new_key()

        failed = await sandbox.post(f"payments/{payment['id']}/capture", key=key)
        state = await sandbox.control.payment(payment["id"])
        repeated = await sandbox.post(f"payments/{payment['id']}/capture", key=key)

        assert failed.status_code == 500
        assert state["payment"]["status"] == "succeeded"
        assert repeated.status_code == 200
        assert repeated.json()["status"] == "succeeded"
        assert state["events"] == ["payment.waiting_for_capture", "payment.succeeded"]

    async def test_a_failed_call_does_not_use_up_the_key_for_another_body(
        self, sandbox: Sandbox
    ) -> None:
        await sandbox.control.fail_next("create_payment", status=500)
        key = new_key()

        await sandbox.post("payments", payment_body(), key=key)
        other = await sandbox.post("payments", payment_body(description="другой"), key=key)

        assert other.status_code == 200
        assert other.json()["description"] == "другой"

    async def test_plans_can_be_listed_and_cleared(self, sandbox: Sandbox) -> None:
        await sandbox.control.fail_next("create_payment", status=429, count=3)
        await sandbox.control.fail_next("create_refund", status=500, executed=True)

        listed = await sandbox.control.faults()
        await sandbox.control.clear_faults()

        assert [(f["operation"], f["remaining"]) for f in listed] == [
            ("create_payment", 3),
            ("create_refund", 1),
        ]
        assert await sandbox.control.faults() == []
        assert (await sandbox.post("payments", payment_body())).status_code == 200

    async def test_reset_forgets_planned_failures(self, sandbox: Sandbox) -> None:
        await sandbox.control.fail_next()

        await sandbox.control.reset(keep_shops=True)

        assert await sandbox.control.faults() == []

    async def test_bad_credentials_come_first_and_use_up_nothing(self, sandbox: Sandbox) -> None:
        await sandbox.control.fail_next()

        refused = await sandbox.api.post(
            "payments",
            json=payment_body(),
            headers={"Idempotence-Key": new_key()},
            auth=("123456", "wrong"),
        )

        assert refused.status_code == 401
        assert len(await sandbox.control.faults()) == 1

    @pytest.mark.parametrize(
        "plan",
        [
            {"operation": "get_payment"},
            {"status": 503},
            {"status": 429, "executed": True},
            {"count": 0},
            {"count": True},
        ],
    )
    async def test_a_bad_plan_is_refused(self, sandbox: Sandbox, plan: dict[str, Any]) -> None:
        with pytest.raises(SandboxControlError) as refused:
            await sandbox.control.fail_next(**plan)

        assert refused.value.status_code == 400
        assert await sandbox.control.faults() == []
