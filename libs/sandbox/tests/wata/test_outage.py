"""The shared outage switch: the API fails or hangs, the control API stays up."""

from __future__ import annotations

import time

import httpx

from sandbox.outage import OutageSwitch
from sandbox.server import serving
from sandbox.wata import WataEmulator, create_app

from .conftest import SHARED_KEY, Sandbox


async def test_error_mode_answers_like_nginx_and_restore_ends_it(sandbox: Sandbox) -> None:
    state = await sandbox.control.outage()

    failed = await sandbox.api.get("public-key")
    failed_write = await sandbox.api.post("links", json={"amount": 299, "currency": "RUB"})
    still_controllable = await sandbox.control.terminals()
    await sandbox.control.restore()
    recovered = await sandbox.api.get("public-key")

    assert (state["active"], state["mode"], state["status"]) == (True, "error", 502)
    assert failed.status_code == failed_write.status_code == 502
    assert "<center>nginx</center>" in failed.text
    assert len(still_controllable) == 2
    assert recovered.status_code == 200
    assert await sandbox.control.outage_state() == {"active": False}


async def test_timeout_mode_delays_then_answers(sandbox: Sandbox) -> None:
    await sandbox.control.outage("timeout", delay_s=0.3)

    started = time.perf_counter()
    response = await sandbox.api.get("public-key")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.3


async def test_one_switch_can_take_several_emulators_down() -> None:
    switch = OutageSwitch()
    first = WataEmulator(signing_key=SHARED_KEY)
    second = WataEmulator(signing_key=SHARED_KEY)
    async with (
        serving(create_app(first, outage=switch), name="wata-a") as a,
        serving(create_app(second, outage=switch), name="wata-b") as b,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        switch.start(status=503)
        down = [await client.get(f"{s.url}/api/h2h/public-key") for s in (a, b)]
        control = await client.get(f"{a.url}/sandbox/outage")
        switch.end()
        up = [await client.get(f"{s.url}/api/h2h/public-key") for s in (a, b)]

    assert [r.status_code for r in down] == [503, 503]
    assert control.json()["status"] == 503
    assert [r.status_code for r in up] == [200, 200]
