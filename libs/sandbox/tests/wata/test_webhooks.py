"""Webhooks: the signature over the exact bytes, retries until a 200, key rotation, forgeries."""

from __future__ import annotations

import asyncio
import base64
import socket
from decimal import Decimal
from itertools import pairwise

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.routing import Route

from sandbox.server import serving
from sandbox.wata import (
    DeliveryPolicy,
    Terminal,
    WataConfig,
    WataEmulator,
    WataSandboxControl,
    create_app,
)
from sandbox.wata.control import SignatureMode

from .conftest import FAST_DELIVERY, SHARED_KEY, TERMINAL_ID, Receiver, Sandbox
from .spec_samples import WEBHOOK, wata_verify


async def test_a_webhook_verifies_with_the_reference_check(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()
    await sandbox.control.wait_delivered(paid["id"], "Paid")
    pem = await sandbox.public_key()

    [received] = sandbox.receiver.received

    assert wata_verify(received.body, received.headers["x-signature"], pem)
    assert wata_verify(received.body, received.headers["x-signature"], pem.replace("\n", "\\n"))
    assert not wata_verify(received.body + b" ", received.headers["x-signature"], pem)
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-forwarded-for"] == "62.84.126.140"


async def test_the_signature_is_sha512_not_sha256(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()
    await sandbox.control.wait_delivered(paid["id"], "Paid")
    key = serialization.load_pem_public_key((await sandbox.public_key()).encode())
    assert isinstance(key, rsa.RSAPublicKey)
    [received] = sandbox.receiver.received
    signature = base64.b64decode(received.headers["x-signature"])

    key.verify(signature, received.body, padding.PKCS1v15(), hashes.SHA512())
    with pytest.raises(InvalidSignature):
        key.verify(signature, received.body, padding.PKCS1v15(), hashes.SHA256())


async def test_the_body_is_compact_json_with_numbers_for_amounts(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()
    await sandbox.control.wait_delivered(paid["id"], "Paid")

    [received] = sandbox.receiver.received

    assert received.body.startswith(b'{"transactionType":"CardCrypto","kind":"Payment",')
    assert b'"amount":299.00,"currency":"RUB"' in received.body
    assert b'"commission":8.97,' in received.body
    assert "VPN, 1 месяц".encode() in received.body
    assert list(received.json()) == list(WEBHOOK)


async def test_a_refused_webhook_is_retried_with_growing_gaps_until_200(sandbox: Sandbox) -> None:
    sandbox.receiver.planned_statuses.extend([500, 404, 503])
    paid = await sandbox.paid_transaction()

    await sandbox.control.wait_delivered(paid["id"], "Paid")

    attempts = await sandbox.control.deliveries(paid["id"])
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False),
        (2, 404, False),
        (3, 503, False),
        (4, 200, True),
    ]
    gaps = [later.started_at - earlier.started_at for earlier, later in pairwise(attempts)]
    assert gaps[0] >= FAST_DELIVERY.first_retry_delay
    assert gaps[1] >= 2 * FAST_DELIVERY.first_retry_delay
    assert gaps[2] >= 4 * FAST_DELIVERY.first_retry_delay
    bodies = {received.body for received in sandbox.receiver.received}
    assert len(bodies) == 1
    assert {a.body.encode() for a in attempts} == bodies
    assert all(a.forged is False and a.kind == "Payment" for a in attempts)
    assert all(a.terminal_public_id == TERMINAL_ID for a in attempts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_delivery_gives_up_after_the_horizon() -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/wata"
    policy = DeliveryPolicy(first_retry_delay=0.05, max_retry_delay=0.1, horizon=0.4)
    emulator = WataEmulator(
        WataConfig(delivery=policy),
        terminals=[Terminal("Dead", ["t"], webhook_url=dead_url)],
        signing_key=SHARED_KEY,
    )
    [terminal] = emulator.terminals()
    link = emulator.create_link(terminal, {"amount": 10, "currency": "RUB"})

    async with (
        serving(create_app(emulator), name="wata-dead-receiver") as server,
        WataSandboxControl(server.url) as control,
    ):
        paid = await control.pay(link.id)
        await asyncio.sleep(0.8)
        attempts = await control.deliveries(paid["id"])
        await asyncio.sleep(0.3)
        assert await control.deliveries(paid["id"]) == attempts

    assert 4 <= len(attempts) <= 7
    assert all(a.status_code is None and a.error for a in attempts)
    assert "ConnectError" in (attempts[0].error or "")


async def test_after_a_key_rotation_webhooks_verify_only_with_the_new_key(
    sandbox: Sandbox,
) -> None:
    old_pem = await sandbox.public_key()
    first = await sandbox.paid_transaction()
    await sandbox.control.wait_delivered(first["id"], "Paid")

    new_pem = await sandbox.control.rotate_key()
    served = await sandbox.public_key()
    second = await sandbox.paid_transaction(orderId="1043")
    await sandbox.control.wait_delivered(second["id"], "Paid")

    before, after = sandbox.receiver.received
    assert served == new_pem != old_pem
    assert wata_verify(before.body, before.headers["x-signature"], old_pem)
    assert not wata_verify(after.body, after.headers["x-signature"], old_pem)
    assert wata_verify(after.body, after.headers["x-signature"], new_pem)
    [first_delivery] = await sandbox.control.deliveries(first["id"])
    [second_delivery] = await sandbox.control.deliveries(second["id"])
    assert first_delivery.key_generation is not None
    assert second_delivery.key_generation == first_delivery.key_generation + 1


async def test_a_retry_after_a_rotation_is_signed_with_the_new_key(sandbox: Sandbox) -> None:
    sandbox.receiver.planned_statuses.append(500)
    old_pem = await sandbox.public_key()
    paid = await sandbox.paid_transaction()
    await sandbox.receiver.wait_for(lambda received: len(received) == 1)

    new_pem = await sandbox.control.rotate_key()
    await sandbox.control.wait_delivered(paid["id"], "Paid")

    refused, retried = sandbox.receiver.received
    assert refused.body == retried.body
    assert wata_verify(refused.body, refused.headers["x-signature"], old_pem)
    assert wata_verify(retried.body, retried.headers["x-signature"], new_pem)


@pytest.mark.parametrize(
    ("mode", "verifies"),
    [("valid", True), ("garbage", False), ("other-body", False), ("foreign-key", False)],
)
async def test_forged_webhooks_carry_the_signature_asked_for(
    sandbox: Sandbox, mode: SignatureMode, verifies: bool
) -> None:
    link = await sandbox.create_link()
    forged = {
        **WEBHOOK,
        "transactionId": "3a16a4f0-27b0-09d1-16da-ba8d5c63eae3",
        "paymentLinkId": link["id"],
        "amount": Decimal("299.00"),
        "commission": Decimal("8.97"),
    }

    attempt = await sandbox.control.send_forged_webhook(
        forged,
        signature=mode,
        terminal_public_id=TERMINAL_ID,
    )

    [received] = sandbox.receiver.received
    pem = await sandbox.public_key()
    assert received.json() == forged
    assert wata_verify(received.body, received.headers["x-signature"], pem) is verifies
    assert attempt.forged is True
    assert attempt.delivered is True
    assert attempt.transaction_id == forged["transactionId"]
    assert attempt.signature == received.headers["x-signature"]
    assert (await sandbox.control.link(link["id"]))["link"]["status"] == "Opened"


async def test_a_forged_webhook_without_a_signature_has_no_header(sandbox: Sandbox) -> None:
    attempt = await sandbox.control.send_forged_webhook(
        b"not even json", signature="missing", terminal_public_id=TERMINAL_ID
    )

    [received] = sandbox.receiver.received
    assert received.body == b"not even json"
    assert "x-signature" not in received.headers
    assert attempt.signature is None
    assert attempt.transaction_id is None


async def test_other_body_signs_exactly_the_bytes_given(sandbox: Sandbox) -> None:
    sent = b'{"transactionStatus":"Paid","amount":1.00}'
    signed = b'{"transactionStatus":"Paid","amount":1000.00}'

    await sandbox.control.send_forged_webhook(
        sent, signature="other-body", signed_body=signed, terminal_public_id=TERMINAL_ID
    )

    [received] = sandbox.receiver.received
    pem = await sandbox.public_key()
    assert received.body == sent
    assert wata_verify(signed, received.headers["x-signature"], pem)
    assert not wata_verify(sent, received.headers["x-signature"], pem)


async def test_a_forged_webhook_is_sent_once_and_may_name_its_source(sandbox: Sandbox) -> None:
    sandbox.receiver.planned_statuses.append(400)

    attempt = await sandbox.control.send_forged_webhook(
        {"transactionStatus": "Paid"},
        signature="custom",
        signature_value="c2lnbmF0dXJl",
        url=sandbox.receiver.url,
        forwarded_for="203.0.113.7",
    )
    await asyncio.sleep(3 * FAST_DELIVERY.first_retry_delay)
    unproxied = await sandbox.control.send_forged_webhook(
        {}, terminal_public_id=TERMINAL_ID, forwarded_for=None
    )

    first, second = sandbox.receiver.received
    assert attempt.status_code == 400
    assert first.headers["x-forwarded-for"] == "203.0.113.7"
    assert first.headers["x-signature"] == "c2lnbmF0dXJl"
    assert "x-forwarded-for" not in second.headers
    assert unproxied.delivered


async def test_a_decline_webhook_can_be_switched_off(sandbox: Sandbox) -> None:
    await sandbox.control.configure_terminal(TERMINAL_ID, send_pay_webhook_on_decline=False)
    link = await sandbox.create_link()

    await sandbox.control.decline(link["id"])
    paid = await sandbox.control.pay(link["id"])
    await sandbox.control.wait_delivered(paid["id"], "Paid")

    assert [r.json()["transactionStatus"] for r in sandbox.receiver.received] == ["Paid"]


async def test_pay_and_refund_webhooks_can_be_switched_off(sandbox: Sandbox) -> None:
    await sandbox.control.configure_terminal(
        TERMINAL_ID, send_pay_webhook=False, send_refund_webhook=False
    )
    paid = await sandbox.paid_transaction()
    refund = await sandbox.refund(paid["id"], Decimal(10))
    await asyncio.sleep(0.1)

    assert refund.status_code == 200
    assert sandbox.receiver.received == []
    assert await sandbox.control.deliveries() == []


async def test_a_terminal_without_a_url_gets_nothing(sandbox: Sandbox) -> None:
    await sandbox.control.configure_terminal(TERMINAL_ID, webhook_url=None)
    paid = await sandbox.paid_transaction()
    await asyncio.sleep(0.1)

    assert sandbox.receiver.received == []
    with pytest.raises(Exception, match="webhook URL"):
        await sandbox.control.resend_webhook(paid["id"])


async def test_a_webhook_can_be_sent_again_as_it_was(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()
    await sandbox.control.wait_delivered(paid["id"], "Paid")

    sent = await sandbox.control.resend_webhook(paid["id"], times=2)
    await sandbox.control.wait_delivered(paid["id"], "Paid", count=3)

    assert sent == 2
    assert len({r.body for r in sandbox.receiver.received}) == 1
    assert len(sandbox.receiver.received) == 3


async def test_webhooks_made_before_serving_go_out_once_it_starts() -> None:
    receiver = Receiver()
    app = Starlette(routes=[Route("/wata", receiver.endpoint, methods=["POST"])])
    async with serving(app, name="wata-late-receiver") as receiver_server:
        emulator = WataEmulator(
            WataConfig(delivery=DeliveryPolicy(forwarded_for=None)),
            terminals=[Terminal("Late", ["t"], webhook_url=f"{receiver_server.url}/wata")],
            signing_key=SHARED_KEY,
        )
        wata = create_app(emulator)
        [terminal] = emulator.terminals()
        link = emulator.create_link(terminal, {"amount": 10, "currency": "RUB"})
        emulator.pay(link.id)

        async with serving(wata, name="wata-late"):
            await receiver.wait_for(lambda received: len(received) == 1)

    [received] = receiver.received
    assert received.json()["transactionStatus"] == "Paid"
    assert "x-forwarded-for" not in received.headers
    assert wata_verify(received.body, received.headers["x-signature"], SHARED_KEY.public_pem)
