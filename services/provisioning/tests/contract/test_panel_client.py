"""The panel-client contract: what provisioning relies on from any panel, asserted through
the client, against the Marzban sandbox by default and against a real panel when one is
given in the environment:

    PANEL_CONTRACT_URL=https://panel.example.com PANEL_CONTRACT_USERNAME=admin \\
    PANEL_CONTRACT_PASSWORD=... [PANEL_CONTRACT_PROTOCOLS=vless,trojan] \\
    .venv/bin/pytest services/provisioning/tests/contract -k real

Against a real panel it creates, changes and deletes users named ``vpn_contract_*`` only,
and removes them at the end; give it a sudo admin of a panel you can spare a few users on.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from provisioning.panels.client import (
    DesiredUser,
    PanelClient,
    PanelCredentialsRefused,
    UserExists,
)
from provisioning.panels.marzban import MarzbanClient, speaks
from sandbox.marzban import AdminAccount, MarzbanEmulator, create_app
from sandbox.server import SandboxServer

GIB = 1024**3
REAL_URL = os.environ.get("PANEL_CONTRACT_URL", "")
PROTOCOLS = os.environ.get("PANEL_CONTRACT_PROTOCOLS", "vless").split(",")


def _marzban(url: str, username: str, password: str) -> MarzbanClient:
    return MarzbanClient(
        base_url=url, username=username, password=password, protocols=PROTOCOLS, timeout_s=10
    )


@pytest_asyncio.fixture(
    loop_scope="session",
    params=[
        "sandbox",
        pytest.param(
            "real",
            marks=pytest.mark.skipif(not REAL_URL, reason="PANEL_CONTRACT_URL is not set"),
        ),
    ],
)
async def panel(request: pytest.FixtureRequest) -> AsyncIterator[tuple[PanelClient, str]]:
    """A client of the panel under test, and how to reach it again with wrong credentials."""
    if request.param == "real":
        client = _marzban(
            REAL_URL,
            os.environ.get("PANEL_CONTRACT_USERNAME", "admin"),
            os.environ.get("PANEL_CONTRACT_PASSWORD", ""),
        )
        yield client, REAL_URL
        await client.aclose()
        return
    emulator = MarzbanEmulator(admins=[AdminAccount("platform", "pw", is_sudo=True)])
    async with SandboxServer(create_app(emulator, review_interval_s=None), name="marzban") as srv:
        client = _marzban(srv.url, "platform", "pw")
        yield client, srv.url
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def username(panel: tuple[PanelClient, str]) -> AsyncIterator[str]:
    name = f"vpn_contract_{secrets.token_hex(6)}"
    yield name
    await panel[0].delete_user(name)


def desired(username: str, **changes: object) -> DesiredUser:
    values: dict[str, object] = {
        "username": username,
        "expires_at": int(time.time()) + 30 * 86_400,
        "traffic_limit_bytes": 100 * GIB,
        "note": "panel-client contract test",
    }
    values.update(changes)
    return DesiredUser(**values)  # type: ignore[arg-type]


async def test_the_probe_reads_a_spoken_version_and_the_protocols_we_use(
    panel: tuple[PanelClient, str],
) -> None:
    probe = await panel[0].probe()
    assert speaks(probe.version)
    assert set(PROTOCOLS) <= probe.protocols
    assert probe.users >= 0
    for node in probe.nodes:
        assert node.name
        assert node.status


async def test_a_user_is_created_read_changed_and_deleted_as_desired(
    panel: tuple[PanelClient, str], username: str
) -> None:
    client = panel[0]
    want = desired(username)
    created = await client.create_user(want)
    assert want.matches(created)
    assert created.subscription_url
    assert created.links, "a user on no inbound cannot connect"
    assert set(PROTOCOLS) <= set(created.protocols)

    read = await client.get_user(username)
    assert read is not None
    assert want.matches(read)

    later = desired(username, expires_at=want.expires_at + 86_400, traffic_limit_bytes=0)
    changed = await client.modify_user(later)
    assert changed is not None
    assert later.matches(changed)
    assert changed.traffic_limit_bytes is None  # 0 is unlimited, reported as none
    assert changed.protocols == created.protocols  # credentials kept

    monthly = desired(username, traffic_reset="month")
    changed = await client.modify_user(monthly)
    assert changed is not None
    assert changed.traffic_reset == "month"

    disabled = await client.modify_user(desired(username, status="disabled"))
    assert disabled is not None
    assert disabled.status == "disabled"
    enabled = await client.modify_user(desired(username))
    assert enabled is not None
    assert enabled.status == "active"

    reset = await client.reset_usage(username)
    assert reset is not None
    assert reset.used_traffic_bytes == 0

    assert await client.delete_user(username)
    assert await client.get_user(username) is None


async def test_a_taken_name_is_refused_so_the_caller_adopts_it(
    panel: tuple[PanelClient, str], username: str
) -> None:
    client = panel[0]
    await client.create_user(desired(username))
    with pytest.raises(UserExists):
        await client.create_user(desired(username))


async def test_a_missing_user_is_none_not_an_error(panel: tuple[PanelClient, str]) -> None:
    client = panel[0]
    missing = f"vpn_contract_{secrets.token_hex(6)}"
    assert await client.get_user(missing) is None
    assert await client.modify_user(desired(missing)) is None
    assert await client.reset_usage(missing) is None
    assert not await client.delete_user(missing)
    assert await client.set_protocols(missing, PROTOCOLS) is None


async def test_protocols_are_set_keeping_the_credentials_of_those_kept(
    panel: tuple[PanelClient, str], username: str
) -> None:
    client = panel[0]
    created = await client.create_user(desired(username))
    fewer = await client.set_protocols(username, PROTOCOLS[:1])
    assert fewer is not None
    assert fewer.protocols == (PROTOCOLS[0],)
    again = await client.set_protocols(username, PROTOCOLS)
    assert again is not None
    assert set(again.protocols) == set(PROTOCOLS)
    # The first protocol's credentials never changed: a link's credential is before the
    # "@" (the rest may vary from one answer to the next, as Marzban picks among hosts).
    kept = {link.split("@")[0] for link in created.links if link.startswith(PROTOCOLS[0])}
    assert kept
    assert kept <= {link.split("@")[0] for link in again.links}


async def test_users_are_listed_page_by_page_with_the_total(
    panel: tuple[PanelClient, str], username: str
) -> None:
    client = panel[0]
    await client.create_user(desired(username))
    seen: list[str] = []
    offset, total = 0, 1
    while offset < total:
        page, total = await client.list_users(offset=offset, limit=50)
        if not page:
            break
        seen += [user.username for user in page]
        offset += len(page)
    assert username in seen
    assert len(seen) == total


async def test_wrong_credentials_are_refused_as_such(panel: tuple[PanelClient, str]) -> None:
    wrong = _marzban(panel[1], "platform", "not-the-password")
    try:
        with pytest.raises(PanelCredentialsRefused):
            await wrong.probe()
    finally:
        await wrong.aclose()
