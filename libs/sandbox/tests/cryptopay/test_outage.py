"""The shared outage switch: /api fails or hangs, /sandbox keeps answering."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx

from sandbox.cryptopay import CryptoPayEmulator, CryptoPaySandboxControl, create_app
from sandbox.outage import OutageSwitch
from sandbox.server import serving

from .conftest import TOKEN, Sandbox


async def test_error_mode_answers_like_nginx_and_restore_ends_it(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice()

    state = await sandbox.control.outage()
    failed = await sandbox.api.get("getMe", headers={"Crypto-Pay-API-Token": TOKEN})
    paid_meanwhile = await sandbox.control.pay(invoice["invoice_id"])
    await sandbox.control.restore()
    recovered = await sandbox.api.get("getMe", headers={"Crypto-Pay-API-Token": TOKEN})

    assert (state["active"], state["mode"], state["status"]) == (True, "error", 502)
    assert failed.status_code == 502
    assert "<center>nginx</center>" in failed.text
    assert paid_meanwhile["status"] == "paid"
    await sandbox.control.wait_delivered(invoice["invoice_id"])
    assert recovered.status_code == 200
    assert await sandbox.control.outage_state() == {"active": False}


async def test_timeout_mode_holds_requests_then_answers(sandbox: Sandbox) -> None:
    await sandbox.control.outage("timeout", delay_s=0.2)
    started = time.monotonic()

    response = await sandbox.api.get("getMe", headers={"Crypto-Pay-API-Token": TOKEN})

    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200


async def test_a_client_that_gives_up_during_a_hold_changes_nothing(sandbox: Sandbox) -> None:
    await sandbox.control.outage("timeout")
    async with httpx.AsyncClient(base_url=f"{sandbox.url}/api/", trust_env=False) as impatient:
        with contextlib.suppress(httpx.TimeoutException):
            await impatient.post(
                "createInvoice",
                json={"asset": "TON", "amount": "1"},
                headers={"Crypto-Pay-API-Token": TOKEN},
                timeout=0.1,
            )
    await sandbox.control.restore()
    await asyncio.sleep(0.05)

    assert (await sandbox.result("getInvoices"))["items"] == []


async def test_the_switch_can_be_shared_with_other_emulators() -> None:
    switch = OutageSwitch()
    first, second = create_app(CryptoPayEmulator(), outage=switch), create_app(outage=switch)
    async with (
        serving(first, name="cryptopay-a") as a,
        serving(second, name="cryptopay-b") as b,
        CryptoPaySandboxControl(a.url) as control,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        await control.outage(status=503)
        down = [await http.get(f"{server.url}/api/getMe") for server in (a, b)]
        await control.restore()
        up = await http.get(f"{b.url}/api/getMe")

    assert [response.status_code for response in down] == [503, 503]
    assert up.status_code == 401
