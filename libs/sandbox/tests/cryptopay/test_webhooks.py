"""Webhook updates: the signature, retries, repeated update ids, resends and forgeries."""

from __future__ import annotations

import asyncio
import json
import socket
from itertools import pairwise

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from sandbox.cryptopay import (
    App,
    CryptoPayConfig,
    CryptoPayEmulator,
    CryptoPaySandboxControl,
    DeliveryPolicy,
    SandboxControlError,
    create_app,
)
from sandbox.server import serving

from .conftest import (
    APP_ID,
    FAST_DELIVERY,
    PAYOUT_APP_ID,
    PAYOUT_TOKEN,
    TOKEN,
    Receiver,
    Sandbox,
    cryptopay_verify,
)
from .test_api import SAMPLE_REQUEST, TIMESTAMP


async def test_a_paid_invoice_is_posted_signed_over_the_exact_bytes(sandbox: Sandbox) -> None:
    invoice = await sandbox.result("createInvoice", **SAMPLE_REQUEST)
    paid = await sandbox.control.pay(invoice["invoice_id"])

    await sandbox.control.wait_delivered(invoice["invoice_id"])

    [received] = sandbox.receiver.received
    assert received.headers["content-type"] == "application/json"
    assert cryptopay_verify(received.body, received.headers["crypto-pay-api-signature"], TOKEN)
    assert not cryptopay_verify(
        received.body, received.headers["crypto-pay-api-signature"], PAYOUT_TOKEN
    )
    update = received.update
    assert isinstance(update["update_id"], int)
    assert update["update_type"] == "invoice_paid"
    assert TIMESTAMP.fullmatch(update["request_date"])
    assert update["payload"] == paid
    # Compact, non-ASCII unescaped: what aiosend re-serializes to verify.
    assert received.body == json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()
    assert "VPN, 1 месяц".encode() in received.body


async def test_updates_have_fresh_ids_by_default(sandbox: Sandbox) -> None:
    first = await sandbox.create_invoice()
    second = await sandbox.create_invoice()
    await sandbox.control.pay(first["invoice_id"])
    await sandbox.control.pay(second["invoice_id"])

    await sandbox.receiver.wait_for(lambda received: len(received) == 2)

    assert len({r.update["update_id"] for r in sandbox.receiver.received}) == 2


async def test_a_refused_update_is_retried_with_growing_delays(sandbox: Sandbox) -> None:
    sandbox.receiver.planned_statuses.extend([500, 404, 204])
    invoice = await sandbox.create_invoice()
    await sandbox.control.pay(invoice["invoice_id"])

    await sandbox.control.wait_delivered(invoice["invoice_id"])

    attempts = await sandbox.control.deliveries(invoice["invoice_id"])
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False),
        (2, 404, False),
        (3, 204, False),
        (4, 200, True),
    ]
    gaps = [later.started_at - earlier.started_at for earlier, later in pairwise(attempts)]
    assert gaps[0] >= FAST_DELIVERY.first_retry_delay
    assert gaps[1] >= 2 * FAST_DELIVERY.first_retry_delay
    assert gaps[2] >= 4 * FAST_DELIVERY.first_retry_delay
    bodies = {r.body for r in sandbox.receiver.received}
    assert len(bodies) == 1
    assert {a.signature for a in attempts} == {
        sandbox.receiver.received[0].headers["crypto-pay-api-signature"]
    }
    assert all(
        (a.app_id, a.update_id, a.forged) == (APP_ID, attempts[0].update_id, False)
        for a in attempts
    )


async def test_update_ids_can_repeat_across_invoices(sandbox: Sandbox) -> None:
    await sandbox.control.set_update_ids(7)
    invoices = [await sandbox.create_invoice() for _ in range(3)]
    for invoice in invoices:
        await sandbox.control.pay(invoice["invoice_id"])

    received = await sandbox.receiver.wait_for(lambda received: len(received) == 3)

    assert {r.update["update_id"] for r in received} == {7}
    assert sorted(r.update["payload"]["invoice_id"] for r in received) == sorted(
        i["invoice_id"] for i in invoices
    )
    assert all(
        cryptopay_verify(r.body, r.headers["crypto-pay-api-signature"], TOKEN) for r in received
    )
    await sandbox.control.set_update_ids(None)
    later = await sandbox.create_invoice()
    await sandbox.control.pay(later["invoice_id"])
    await sandbox.receiver.wait_for(lambda received: len(received) == 4)
    assert sandbox.receiver.received[-1].update["update_id"] != 7


async def test_a_config_can_fix_the_update_id_from_the_start() -> None:
    receiver = Receiver()
    receiver_app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    async with serving(receiver_app, name="receiver-fixed") as receiver_server:
        emulator = CryptoPayEmulator(
            CryptoPayConfig(delivery=FAST_DELIVERY, fixed_update_id=1001),
            apps=[App(1, "a", "1:abc", webhook_url=f"{receiver_server.url}/hook")],
        )
        async with serving(create_app(emulator), name="cryptopay-fixed"):
            for _ in range(2):
                invoice = emulator.call("createInvoice", "1:abc", {"asset": "TON", "amount": "1"})
                assert isinstance(invoice, dict)
                emulator.pay(invoice["invoice_id"])
            await receiver.wait_for(lambda received: len(received) == 2)

    assert [r.update["update_id"] for r in receiver.received] == [1001, 1001]


async def test_resend_delivers_the_same_bytes_again(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice()
    await sandbox.control.pay(invoice["invoice_id"])
    await sandbox.control.wait_delivered(invoice["invoice_id"])

    update_id = await sandbox.control.resend_webhook(invoice["invoice_id"], times=2)
    await sandbox.control.wait_delivered(invoice["invoice_id"], count=3)

    assert len({r.body for r in sandbox.receiver.received}) == 1
    assert sandbox.receiver.received[0].update["update_id"] == update_id
    state = await sandbox.control.invoice(invoice["invoice_id"])
    assert state["update"]["body"].encode() == sandbox.receiver.received[0].body


async def test_an_unpaid_invoice_has_no_update_to_resend(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice()

    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.resend_webhook(invoice["invoice_id"])

    assert refused.value.status_code == 409


async def test_an_app_without_a_webhook_url_gets_no_updates(sandbox: Sandbox) -> None:
    await sandbox.control.configure_app(APP_ID, remove_webhook=True)
    invoice = await sandbox.create_invoice()
    await sandbox.control.pay(invoice["invoice_id"])
    await asyncio.sleep(0.1)

    assert await sandbox.control.deliveries() == []
    state = await sandbox.control.invoice(invoice["invoice_id"])
    assert state["update"] is not None
    await sandbox.control.configure_app(APP_ID, webhook_url=sandbox.receiver.url)
    await sandbox.control.resend_webhook(invoice["invoice_id"])
    await sandbox.control.wait_delivered(invoice["invoice_id"])
    assert sandbox.receiver.received[0].body == state["update"]["body"].encode()


@pytest.mark.parametrize(
    ("mode", "verifies"),
    [
        ("valid", True),
        ("none", False),
        ("garbage", False),
        ("other_bytes", False),
        ("wrong_token", False),
    ],
)
async def test_forged_updates_are_sent_once_and_change_nothing(
    sandbox: Sandbox, mode: str, verifies: bool
) -> None:
    invoice = await sandbox.create_invoice()
    forged = {
        "update_id": 1,
        "update_type": "invoice_paid",
        "request_date": "2025-01-15T10:05:00.123Z",
        "payload": {**invoice, "status": "paid"},
    }

    attempt = await sandbox.control.send_forged_webhook(APP_ID, forged, signature=mode)

    assert (attempt.forged, attempt.delivered) == (True, True)
    assert (attempt.invoice_id, attempt.update_id) == (invoice["invoice_id"], 1)
    [received] = sandbox.receiver.received
    assert received.update == forged
    header = received.headers.get("crypto-pay-api-signature")
    assert (header is None) == (mode == "none")
    assert attempt.signature == header
    assert cryptopay_verify(received.body, header or "", TOKEN) is verifies
    state = await sandbox.control.invoice(invoice["invoice_id"])
    assert state["invoice"]["status"] == "active"
    await asyncio.sleep(3 * FAST_DELIVERY.first_retry_delay)
    assert len(sandbox.receiver.received) == 1


async def test_a_forged_signature_over_chosen_bytes_or_with_a_chosen_token(
    sandbox: Sandbox,
) -> None:
    body = b'{"update_id":1,"update_type":"invoice_paid"}'

    await sandbox.control.send_forged_webhook(
        APP_ID, body, signature="other_bytes", signed_body='{"update_id":2}'
    )
    await sandbox.control.send_forged_webhook(
        APP_ID, body, signature="wrong_token", wrong_token=PAYOUT_TOKEN
    )

    over_other, other_token = sandbox.receiver.received
    assert over_other.body == body
    assert cryptopay_verify(
        b'{"update_id":2}', over_other.headers["crypto-pay-api-signature"], TOKEN
    )
    assert cryptopay_verify(body, other_token.headers["crypto-pay-api-signature"], PAYOUT_TOKEN)


async def test_a_forged_body_need_not_be_json_and_is_not_retried(sandbox: Sandbox) -> None:
    sandbox.receiver.planned_statuses.append(400)

    attempt = await sandbox.control.send_forged_webhook(PAYOUT_APP_ID, b"\xff not json")

    assert (attempt.status_code, attempt.delivered) == (400, False)
    assert (attempt.invoice_id, attempt.update_id) == (None, None)
    assert sandbox.receiver.received[0].body == b"\xff not json"
    await asyncio.sleep(3 * FAST_DELIVERY.first_retry_delay)
    assert len(sandbox.receiver.received) == 1
    assert [a.app_id for a in await sandbox.control.deliveries(app_id=PAYOUT_APP_ID)] == [
        PAYOUT_APP_ID
    ]


async def test_an_unknown_signature_mode_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.send_forged_webhook(APP_ID, b"{}", signature="sloppy")

    assert refused.value.status_code == 400
    assert sandbox.receiver.received == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_delivery_gives_up_after_the_horizon() -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/hook"
    policy = DeliveryPolicy(first_retry_delay=0.05, max_retry_delay=0.1, horizon=0.4)
    emulator = CryptoPayEmulator(
        CryptoPayConfig(delivery=policy), apps=[App(1, "a", "1:abc", webhook_url=dead_url)]
    )
    invoice = emulator.create_invoice(emulator.app(1), {"asset": "TON", "amount": "1"})

    async with (
        serving(create_app(emulator), name="cryptopay-dead-receiver") as server,
        CryptoPaySandboxControl(server.url) as control,
    ):
        await control.pay(invoice.invoice_id)
        await asyncio.sleep(0.8)
        attempts = await control.deliveries(invoice.invoice_id)
        await asyncio.sleep(0.3)
        assert await control.deliveries(invoice.invoice_id) == attempts

    assert 4 <= len(attempts) <= 7
    assert all(a.status_code is None and a.error for a in attempts)
    assert "ConnectError" in (attempts[0].error or "")


async def test_updates_made_before_serving_go_out_once_it_starts() -> None:
    receiver = Receiver()
    receiver_app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    async with serving(receiver_app, name="late-receiver") as receiver_server:
        emulator = CryptoPayEmulator(
            CryptoPayConfig(delivery=FAST_DELIVERY),
            apps=[App(1, "a", "1:abc", webhook_url=f"{receiver_server.url}/hook")],
        )
        app = create_app(emulator)
        invoice = emulator.create_invoice(emulator.app(1), {"asset": "TON", "amount": "1"})
        emulator.pay(invoice.invoice_id)

        async with serving(app, name="cryptopay-late"):
            await receiver.wait_for(lambda received: len(received) == 1)

    assert receiver.received[0].update["payload"]["invoice_id"] == invoice.invoice_id
