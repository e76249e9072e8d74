"""Notifications: retries after a refusal, the delivery log, repeats and forgeries."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from itertools import pairwise

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from sandbox.server import serving
from sandbox.yookassa import (
    DeliveryPolicy,
    SandboxControlError,
    Shop,
    YooKassaConfig,
    YooKassaEmulator,
    YooKassaSandboxControl,
    create_app,
)

from .conftest import FAST_DELIVERY, SHOP_ID, Receiver, Sandbox

YOOKASSA_NETWORK = ipaddress.ip_network("185.71.76.0/27")


async def test_a_refused_notification_is_retried_with_backoff(sandbox: Sandbox) -> None:
    sandbox.receiver.planned_statuses.extend([500, 503])
    payment = await sandbox.create_payment()
    await sandbox.control.succeed(payment["id"])

    await sandbox.control.wait_delivered(payment["id"], "payment.succeeded")

    attempts = await sandbox.control.deliveries(payment["id"])
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    gaps = [later.started_at - earlier.started_at for earlier, later in pairwise(attempts)]
    assert gaps[0] >= FAST_DELIVERY.first_retry_delay
    assert gaps[1] >= 2 * FAST_DELIVERY.first_retry_delay
    bodies = [received.body for received in sandbox.receiver.received]
    assert bodies == [bodies[0]] * 3
    assert bodies[0]["object"]["status"] == "succeeded"


async def test_the_delivery_log_records_every_attempt(sandbox: Sandbox) -> None:
    held = await sandbox.create_payment(capture=False)
    other = await sandbox.create_payment()
    await sandbox.control.succeed(held["id"])
    await sandbox.control.cancel(other["id"])
    await sandbox.api.post(
        f"payments/{held['id']}/capture", json={}, headers={"Idempotence-Key": "capture-1"}
    )
    await sandbox.control.wait_delivered(held["id"], "payment.succeeded")
    await sandbox.control.wait_delivered(other["id"], "payment.canceled")

    everything = await sandbox.control.deliveries()
    of_held = await sandbox.control.deliveries(held["id"])
    succeeded = await sandbox.control.deliveries(held["id"], event="payment.succeeded")

    assert len(everything) == 3
    assert sorted(a.event or "" for a in of_held) == [
        "payment.succeeded",
        "payment.waiting_for_capture",
    ]
    [attempt] = succeeded
    assert attempt.shop_id == SHOP_ID
    assert attempt.url == sandbox.receiver.url
    assert attempt.object_id == held["id"]
    assert isinstance(attempt.started_at, float)
    assert attempt.started_at <= attempt.finished_at <= time.time()
    assert attempt.error is None
    assert attempt.forged is False


async def test_notifications_come_from_an_allowlisted_address(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment()
    await sandbox.control.succeed(payment["id"])
    await sandbox.control.wait_delivered(payment["id"], "payment.succeeded")

    [received] = sandbox.receiver.received
    assert received.headers["content-type"] == "application/json"
    assert ipaddress.ip_address(received.headers["x-forwarded-for"]) in YOOKASSA_NETWORK


async def test_the_object_is_the_one_at_the_moment_of_the_event(sandbox: Sandbox) -> None:
    held = await sandbox.create_payment(capture=False)
    await sandbox.control.succeed(held["id"])
    await sandbox.api.post(
        f"payments/{held['id']}/cancel", json={}, headers={"Idempotence-Key": "cancel-1"}
    )
    await sandbox.control.wait_delivered(held["id"], "payment.canceled")

    by_event = {r.body["event"]: r.body["object"] for r in sandbox.receiver.received}
    assert by_event["payment.waiting_for_capture"]["status"] == "waiting_for_capture"
    assert by_event["payment.waiting_for_capture"]["paid"] is True
    assert by_event["payment.canceled"]["status"] == "canceled"


async def test_renotify_repeats_the_current_status_and_changes_nothing(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment()
    await sandbox.control.succeed(payment["id"])
    await sandbox.control.wait_delivered(payment["id"], "payment.succeeded")
    before = await sandbox.control.payment(payment["id"])

    event = await sandbox.control.renotify(payment["id"], times=3)
    await sandbox.control.wait_delivered(payment["id"], "payment.succeeded", count=4)

    assert event == "payment.succeeded"
    assert sandbox.receiver.events(payment["id"]) == ["payment.succeeded"] * 4
    assert len({str(r.body) for r in sandbox.receiver.received}) == 1
    after = await sandbox.control.payment(payment["id"])
    assert after == before


async def test_a_pending_payment_has_nothing_to_renotify(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment()

    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.renotify(payment["id"])

    assert refused.value.status_code == 400


async def test_a_forged_notification_is_sent_once_and_changes_nothing(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment()
    forged = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {**payment, "status": "succeeded", "paid": True},
    }

    attempt = await sandbox.control.send_raw_notification(
        SHOP_ID, forged, forwarded_for="203.0.113.7"
    )

    assert attempt.forged is True
    assert attempt.delivered is True
    assert attempt.payment_id == payment["id"]
    [received] = sandbox.receiver.received
    assert received.body == forged
    assert received.headers["x-forwarded-for"] == "203.0.113.7"
    still = await sandbox.api.get(f"payments/{payment['id']}")
    assert still.json()["status"] == "pending"
    assert [a.forged for a in await sandbox.control.deliveries(payment["id"])] == [True]


async def test_a_forged_body_need_not_be_a_notification(sandbox: Sandbox) -> None:
    sandbox.receiver.planned_statuses.append(400)

    attempt = await sandbox.control.send_raw_notification(
        SHOP_ID, {"type": "notification", "event": "payment.succeeded", "object": {}}
    )

    assert attempt.status_code == 400
    assert attempt.delivered is False
    await asyncio.sleep(3 * FAST_DELIVERY.first_retry_delay)
    assert len(sandbox.receiver.received) == 1


async def test_a_shop_without_a_url_gets_no_notifications(sandbox: Sandbox) -> None:
    await sandbox.control.add_shop(SHOP_ID, "test_SecretKey", notification_url=None)
    payment = await sandbox.create_payment()
    await sandbox.control.succeed(payment["id"])

    await asyncio.sleep(0.1)

    assert await sandbox.control.deliveries() == []
    state = await sandbox.control.payment(payment["id"])
    assert state["events"] == ["payment.succeeded"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_delivery_gives_up_after_the_horizon() -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/yookassa"
    policy = DeliveryPolicy(first_retry_delay=0.05, max_retry_delay=0.1, horizon=0.4)
    emulator = YooKassaEmulator(
        YooKassaConfig(delivery=policy),
        shops=[Shop("1", "secret", notification_url=dead_url)],
    )
    payment = emulator.create_payment(
        emulator.shops()[0],
        {"amount": {"value": "1.00", "currency": "RUB"}, "confirmation": {"type": "embedded"}},
    )

    async with (
        serving(create_app(emulator), name="yookassa-dead-receiver") as server,
        YooKassaSandboxControl(server.url) as control,
    ):
        await control.succeed(payment.id)
        await asyncio.sleep(0.8)
        attempts = await control.deliveries(payment.id)
        await asyncio.sleep(0.3)
        assert await control.deliveries(payment.id) == attempts

    assert 4 <= len(attempts) <= 7
    assert all(a.status_code is None and a.error for a in attempts)
    assert "ConnectError" in (attempts[0].error or "")


async def test_notifications_made_before_serving_go_out_once_it_starts() -> None:
    receiver = Receiver()
    app = Starlette(routes=[Route("/yookassa", receiver.endpoint, methods=["POST"])])
    async with serving(app, name="late-receiver") as receiver_server:
        emulator = YooKassaEmulator(
            YooKassaConfig(delivery=FAST_DELIVERY),
            shops=[Shop("1", "secret", notification_url=f"{receiver_server.url}/yookassa")],
        )
        yookassa = create_app(emulator)
        payment = emulator.create_payment(
            emulator.shops()[0],
            {
                "amount": {"value": "1.00", "currency": "RUB"},
                "capture": True,
                "confirmation": {"type": "embedded"},
            },
        )
        emulator.succeed(payment.id)

        async with serving(yookassa, name="yookassa-late"):
            await receiver.wait_for(lambda received: len(received) == 1)

    assert receiver.received[0].body["event"] == "payment.succeeded"
