"""``python -m provisioning region|panel``, run as an operator would, on a real database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from chassis.db import session_factory
from chassis.migrations import upgrade_to_head_async
from devstack.pytest_plugin import DatabaseFactory
from provisioning import regions
from sandbox.marzban import AdminAccount, MarzbanEmulator, create_app
from sandbox.server import SandboxServer

from .test_placement_worker import tables

pytestmark = pytest.mark.integration


PASSWORD_REF = "env:PANEL_NL1_PASSWORD"


@dataclass
class Operator:
    database_url: str
    panel_url: str

    async def run(self, *args: str) -> tuple[int, str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PROVISIONING_DATABASE_URL": self.database_url,
            "PROVISIONING_LOG_FORMAT": "text",
            "PANEL_NL1_PASSWORD": "pw",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "provisioning",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode is not None
        return proc.returncode, out.decode().strip(), err.decode()

    async def set_panel(
        self, panel_id: str, region: str, *extra: str, password_ref: str = PASSWORD_REF
    ) -> tuple[int, str, str]:
        return await self.run(
            "panel", "set", panel_id, "--region", region, "--url", self.panel_url,
            "--username", "platform", "--password-ref", password_ref, *extra,
        )  # fmt: skip


@pytest_asyncio.fixture(loop_scope="session")
async def operator(database_factory: DatabaseFactory) -> AsyncIterator[Operator]:
    url = await database_factory("provisioning")
    await upgrade_to_head_async("provisioning:migrations", url)
    emulator = MarzbanEmulator(admins=[AdminAccount("platform", "pw", is_sudo=True)])
    async with SandboxServer(create_app(emulator, review_interval_s=None), name="nl-1") as server:
        yield Operator(url, server.url)


async def test_an_operator_adds_a_region_and_a_panel_and_checks_it(operator: Operator) -> None:
    code, out, err = await operator.run(
        "region",
        "set",
        "nl",
        "--name",
        "ru=Нидерланды",
        "--name",
        "en=Netherlands",
        "--flag",
        "🇳🇱",
    )
    assert (code, out) == (0, "nl"), err
    code, out, err = await operator.set_panel(
        "nl-1", "nl", "--protocol", "vless", "--weight", "2", "--capacity", "500"
    )
    assert (code, out) == (0, "nl-1"), err

    code, out, _ = await operator.run("region", "list")
    assert out.split("\t")[:3] == ["nl", "🇳🇱", "en=Netherlands,ru=Нидерланды"]
    code, out, _ = await operator.run("panel", "list")
    assert out.split("\t")[:2] == ["nl-1", "nl"]
    assert "users=0/500" in out
    assert "health=unknown" in out

    code, out, err = await operator.run("panel", "check", "nl-1")
    assert code == 0, err
    assert "version\t0.8.4" in out.splitlines()
    # The sandbox offers vless, vmess, trojan and shadowsocks inbounds.
    assert "vless" in next(line for line in out.splitlines() if line.startswith("protocols"))

    # The catalog was published with the change, once per change.
    engine = create_async_engine(operator.database_url)
    async with session_factory(engine)() as session:
        payloads = (
            await session.scalars(
                select(tables.outbox.c.payload).where(
                    tables.outbox.c.event_type == "provisioning.regions.published.v1"
                )
            )
        ).all()
        assert [panel.panel_id for panel in await regions.panels(session)] == ["nl-1"]
    await engine.dispose()
    latest = json.loads(bytes(payloads[-1]))
    assert [(r["region"], r["available"]) for r in latest["regions"]] == [("nl", True)]


async def test_what_would_be_inconsistent_is_refused_with_the_reason(operator: Operator) -> None:
    code, _, err = await operator.set_panel("xx-1", "xx")
    assert code == 1
    assert "there is no region 'xx': create it first" in err
    await operator.run("region", "set", "nl", "--name", "en=Netherlands")
    code, _, err = await operator.set_panel("nl-1", "nl", password_ref="hunter2")
    assert code == 1
    assert "not a secret reference" in err
    code, _, err = await operator.run("region", "set", "nl", "--name", "Netherlands")
    assert code == 2
    assert "language=name" in err


async def test_a_protocol_without_an_inbound_is_found_when_the_panel_is_checked(
    operator: Operator,
) -> None:
    await operator.run("region", "set", "nl", "--name", "en=Netherlands")
    await operator.set_panel("nl-1", "nl", "--protocol", "vless", "--protocol", "hysteria")
    code, _, err = await operator.run("panel", "check", "nl-1")
    assert code == 1
    assert "misconfigured: no inbound for hysteria" in err


async def test_a_panel_is_removed_only_when_it_serves_nobody(operator: Operator) -> None:
    await operator.run("region", "set", "nl", "--name", "en=Netherlands")
    await operator.set_panel("nl-1", "nl")
    engine = create_async_engine(operator.database_url)
    async with session_factory(engine)() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO placements (subscription_id, customer_id, region, panel_id, "
                "panel_username, desired_expire, desired_traffic_limit_bytes, desired_state, "
                "desired_version, applied_version, on_panel, attempts, next_attempt_at, "
                "failure_reported, gave_up, carry_over, traffic_reset, renewal_due, "
                "carried_bytes, extra_bytes, shortened, stale_panels) VALUES (gen_random_uuid(), "
                "gen_random_uuid(), 'nl', 'nl-1', 'vpn_x', now(), 0, 'active', 1, 1, true, 0, "
                "now(), false, false, true, 'none', false, 0, 0, false, '{}')"
            )
        )
    code, _, err = await operator.run("panel", "remove", "nl-1")
    assert code == 1
    assert "panel nl-1 still has 1 users: drain it first" in err
    async with session_factory(engine)() as session, session.begin():
        await session.execute(text("UPDATE placements SET desired_state = 'removed'"))
    await engine.dispose()
    code, out, err = await operator.run("panel", "remove", "nl-1")
    assert (code, out) == (0, "nl-1"), err
    code, out, _ = await operator.run("panel", "list")
    assert out == ""


async def test_placements_given_up_on_are_listed_and_handed_back_to_the_worker(
    operator: Operator,
) -> None:
    engine = create_async_engine(operator.database_url)
    async with session_factory(engine)() as session, session.begin():
        for username, gave_up, attempts in (("vpn_refused", True, 1), ("vpn_retrying", False, 3)):
            await session.execute(
                text(
                    "INSERT INTO placements (subscription_id, customer_id, region, panel_id, "
                    "panel_username, desired_expire, desired_traffic_limit_bytes, "
                    "desired_state, desired_version, applied_version, on_panel, attempts, "
                    "next_attempt_at, failure_reported, gave_up, carry_over, traffic_reset, "
                    "renewal_due, carried_bytes, extra_bytes, shortened, stale_panels, "
                    "last_error) VALUES (gen_random_uuid(), gen_random_uuid(), 'nl', 'nl-9', "
                    ":username, now(), 0, 'active', 1, 0, false, :attempts, now(), true, "
                    ":gave_up, true, 'none', false, 0, 0, false, '{}', :error)"
                ),
                {
                    "username": username,
                    "gave_up": gave_up,
                    "attempts": attempts,
                    "error": f"HTTP 422: {username}",
                },
            )
        refused = await session.scalar(
            text("SELECT subscription_id FROM placements WHERE panel_username = 'vpn_refused'")
        )

    code, out, err = await operator.run("placement", "failed", "--panel", "nl-9")
    assert code == 0, err
    lines = [line.split("\t") for line in out.splitlines()]
    assert {(line[1], line[2], line[4]) for line in lines} == {
        ("nl-9", "gave-up", "HTTP 422: vpn_refused"),
        ("nl-9", "retrying(3)", "HTTP 422: vpn_retrying"),
    }

    code, _, err = await operator.run("placement", "retry")
    assert code == 1
    assert "name the placements" in err
    code, out, err = await operator.run("placement", "retry", "--panel", "nl-9")
    assert (code, out) == (0, f"retrying\t{refused}"), err
    async with session_factory(engine)() as session:
        state = (
            await session.execute(
                text(
                    "SELECT gave_up, attempts, failure_reported FROM placements "
                    "WHERE subscription_id = :id"
                ),
                {"id": refused},
            )
        ).one()
    await engine.dispose()
    assert tuple(state) == (False, 0, False)
    code, out, _ = await operator.run("placement", "retry", "--all")
    assert (code, out) == (0, "retrying\t0"), "nothing given up on any more"
