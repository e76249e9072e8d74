"""The outage switch: 5xx answers, hung requests, and the control API that drives them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox.marzban import MarzbanEmulator, MarzbanSandboxControl, SandboxControlError


async def test_error_mode_answers_like_nginx_and_restore_ends_it(
    api: httpx.AsyncClient, control: MarzbanSandboxControl
) -> None:
    state = await control.outage()

    failed = await api.get("/api/admin")
    failed_sub = await api.get("/sub/anything")
    still_controllable = await control.users()
    await control.restore()
    recovered = await api.get("/api/admin")

    assert state["active"] is True
    assert (state["mode"], state["status"]) == ("error", 502)
    assert failed.status_code == 502
    assert failed.headers["content-type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in failed.text
    assert "<center>nginx</center>" in failed.text
    assert failed_sub.status_code == 502
    assert still_controllable == []
    assert recovered.status_code == 200
    assert (await control.outage_state()) == {"active": False}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, "Internal Server Error"),
        (503, "<title>503 Service Temporarily Unavailable</title>"),
        (504, "<title>504 Gateway Time-out</title>"),
    ],
)
async def test_error_mode_status_codes(
    api: httpx.AsyncClient, control: MarzbanSandboxControl, status: int, body: str
) -> None:
    await control.outage(status=status)

    response = await api.get("/api/users")

    assert response.status_code == status
    assert body in response.text


async def test_timeout_mode_delays_then_answers(
    api: httpx.AsyncClient, control: MarzbanSandboxControl
) -> None:
    await control.outage("timeout", delay_s=0.3)

    started = time.perf_counter()
    response = await api.get("/api/admin")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.3


async def test_timeout_mode_hangs_until_restored_and_drops_abandoned_requests(
    api: httpx.AsyncClient,
    control: MarzbanSandboxControl,
    emulator: MarzbanEmulator,
    new_user: Callable[..., dict[str, Any]],
) -> None:
    await control.outage("timeout")

    with pytest.raises(httpx.ReadTimeout):
        await api.post("/api/user", json=new_user("abandoned"), timeout=0.2)
    waiting = asyncio.create_task(api.post("/api/user", json=new_user("patient")))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await control.restore()
    answered = await asyncio.wait_for(waiting, 2)

    assert answered.status_code == 200
    assert list(emulator.users) == ["patient"]


async def test_control_api_validates_its_input(control: MarzbanSandboxControl) -> None:
    with pytest.raises(SandboxControlError) as not_5xx:
        await control.outage(status=404)
    with pytest.raises(SandboxControlError) as unknown_user:
        await control.add_traffic("ghost", 10)

    assert not_5xx.value.status_code == 422
    assert unknown_user.value.status_code == 404


async def test_reset_and_state(
    api: httpx.AsyncClient,
    control: MarzbanSandboxControl,
    new_user: Callable[..., dict[str, Any]],
) -> None:
    await api.post("/api/user", json=new_user("alice"))
    await control.add_admin("seller", "pw")
    await control.outage()

    before = await control.state()
    await control.reset()
    after = await control.state()

    assert [u["username"] for u in before["users"]] == ["alice"]
    assert before["users"][0]["proxies"]["vless"]["flow"] == ""
    assert {a["username"] for a in before["admins"]} == {"admin", "seller"}
    assert before["outage"]["active"] is True
    assert after["users"] == []
    assert [a["username"] for a in after["admins"]] == ["admin"]
    assert after["outage"] == {"active": False}
