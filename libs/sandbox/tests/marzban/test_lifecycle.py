"""Rule 10: limits and expiry are enforced by the review job, on_hold waits for a connection,
next plans fire instead of a status change. Mostly on the emulator itself, no HTTP."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from sandbox.marzban import MarzbanEmulator, MarzbanSandboxControl, create_app
from sandbox.marzban.records import Caller
from sandbox.marzban.schemas import UserStatus
from sandbox.server import serving

from .conftest import ManualClock

SUDO = Caller("admin", True, None)


@pytest.fixture
def panel(clock: ManualClock) -> MarzbanEmulator:
    return MarzbanEmulator(clock=clock, rng=random.Random(1))


def add(panel: MarzbanEmulator, username: str, **fields: Any) -> None:
    body = {"username": username, "proxies": {"vless": {}}, "inbounds": {}, **fields}
    panel.create_user(SUDO, panel.parse_user_create(body))


def status(panel: MarzbanEmulator, username: str) -> str:
    return panel.users[username].status.value


DAY = 86400


class TestResetDataUsage:
    """``reset_user_data_usage``: the hourly job behind ``data_limit_reset_strategy``."""

    def test_a_monthly_user_starts_again_after_30_days(
        self, panel: MarzbanEmulator, clock: ManualClock
    ) -> None:
        add(panel, "monthly", data_limit=100, data_limit_reset_strategy="month")
        add(panel, "never", data_limit=100)
        for username in ("monthly", "never"):
            panel.add_traffic(username, 100)
        panel.review()
        assert status(panel, "monthly") == "limited"

        clock.advance(30 * DAY - 1)
        assert panel.reset_data_usage() == []  # 29 whole days: not yet
        clock.advance(1)
        assert panel.reset_data_usage() == ["monthly"]

        user = panel.users["monthly"]
        assert (user.status.value, user.used_traffic, user.lifetime_used_traffic) == (
            "active",
            0,
            100,
        )
        assert status(panel, "never") == "limited"
        assert panel.reset_data_usage() == []  # counted again from this reset

    def test_the_days_count_from_the_last_reset_by_hand(
        self, panel: MarzbanEmulator, clock: ManualClock
    ) -> None:
        add(panel, "weekly", data_limit=100, data_limit_reset_strategy="week")
        clock.advance(5 * DAY)
        panel.reset_usage(SUDO, "weekly")
        clock.advance(5 * DAY)
        assert panel.reset_data_usage() == []
        clock.advance(2 * DAY)
        assert panel.reset_data_usage() == ["weekly"]

    @pytest.mark.parametrize("final", ["disabled", "expired"])
    def test_only_active_and_limited_users_are_reset(
        self, panel: MarzbanEmulator, clock: ManualClock, final: str
    ) -> None:
        add(panel, "off", data_limit=100, data_limit_reset_strategy="day")
        panel.add_traffic("off", 50)
        panel.users["off"].status = UserStatus(final)
        clock.advance(2 * DAY)
        assert panel.reset_data_usage() == []
        assert panel.users["off"].used_traffic == 50

    async def test_the_control_api_runs_the_job(
        self, panel: MarzbanEmulator, clock: ManualClock
    ) -> None:
        add(panel, "daily", data_limit=100, data_limit_reset_strategy="day")
        clock.advance(DAY)
        app = create_app(panel, review_interval_s=None)
        async with (
            serving(app, name="marzban-reset") as server,
            MarzbanSandboxControl(server.url) as control,
        ):
            assert await control.run_reset_data_usage() == ["daily"]


class TestReview:
    def test_limits_and_expiry_wait_for_the_job(
        self, panel: MarzbanEmulator, clock: ManualClock
    ) -> None:
        add(panel, "heavy", data_limit=100)
        add(panel, "late", expire=int(clock.now) + 10)
        add(panel, "fine", data_limit=100, expire=int(clock.now) + 1000)
        panel.add_traffic("heavy", 100)
        panel.add_traffic("fine", 99)
        clock.advance(10)

        assert (status(panel, "heavy"), status(panel, "late")) == ("active", "active")
        changes = panel.review()

        assert [(c.username, c.old.value, c.new.value) for c in changes] == [
            ("heavy", "active", "limited"),
            ("late", "active", "expired"),
        ]
        assert status(panel, "fine") == "active"
        assert panel.review() == []

    def test_reactivated_limited_user_is_limited_again(self, panel: MarzbanEmulator) -> None:
        add(panel, "heavy", data_limit=100)
        panel.add_traffic("heavy", 150)
        panel.review()

        panel.modify_user(SUDO, "heavy", panel.parse_user_modify({"status": "active"}))
        assert status(panel, "heavy") == "active"
        panel.review()

        assert status(panel, "heavy") == "limited"

    def test_next_plan_fires_instead_of_limiting(self, panel: MarzbanEmulator) -> None:
        plan = {"data_limit": 1000, "expire": 1900000000, "add_remaining_traffic": False}
        add(panel, "renewing", data_limit=300, next_plan=plan)
        panel.add_traffic("renewing", 350)

        [change] = panel.review()

        user = panel.users["renewing"]
        assert change.next_plan_applied
        assert user.status == UserStatus.active
        # Upstream adds the remainder when add_remaining_traffic is false: 1000 + (300 - 350).
        assert (user.data_limit, user.expire, user.next_plan) == (950, 1900000000, None)
        assert (user.used_traffic, user.lifetime_used_traffic) == (0, 350)

    def test_plan_without_fire_on_either_needs_both_conditions(
        self, panel: MarzbanEmulator, clock: ManualClock
    ) -> None:
        plan = {"data_limit": 1000, "fire_on_either": False}
        add(panel, "patient", data_limit=100, expire=int(clock.now) + 5, next_plan=plan)
        panel.add_traffic("patient", 200)

        panel.review()

        assert status(panel, "patient") == "limited"
        assert panel.users["patient"].next_plan is not None

    def test_a_plan_that_cannot_be_computed_stops_the_run(
        self, panel: MarzbanEmulator, clock: ManualClock
    ) -> None:
        add(panel, "broken", expire=int(clock.now) - 1, next_plan={"data_limit": 10})
        add(panel, "waiting", expire=int(clock.now) - 1)

        assert panel.review() == []

        assert (status(panel, "broken"), status(panel, "waiting")) == ("active", "active")


class TestOnHold:
    def test_first_connection_starts_the_clock(
        self, panel: MarzbanEmulator, clock: ManualClock
    ) -> None:
        add(panel, "parked", status="on_hold", on_hold_expire_duration=86400)
        panel.review()
        assert status(panel, "parked") == "on_hold"
        clock.advance(30)

        panel.add_traffic("parked", 1)
        panel.review()

        user = panel.users["parked"]
        assert user.status == UserStatus.active
        assert user.expire == int(clock.now) + 86400
        assert (user.on_hold_expire_duration, user.on_hold_timeout) == (None, None)

    def test_timeout_activates_without_a_connection(
        self, panel: MarzbanEmulator, clock: ManualClock
    ) -> None:
        add(
            panel,
            "parked",
            status="on_hold",
            on_hold_expire_duration=3600,
            on_hold_timeout=int(clock.now) + 60,
        )
        panel.review()
        assert status(panel, "parked") == "on_hold"

        clock.advance(60)
        panel.review()

        assert status(panel, "parked") == "active"
        assert panel.users["parked"].expire == int(clock.now) + 3600


async def test_traffic_and_review_through_the_control_api(
    api: httpx.AsyncClient, control: MarzbanSandboxControl
) -> None:
    body = {"username": "heavy", "proxies": {"vless": {}}, "inbounds": {}, "data_limit": 100}
    await api.post("/api/user", json=body)

    raw = await control.add_traffic("heavy", 120)
    changes = await control.run_review()
    user = await control.user("heavy")
    admin = (await api.get("/api/admin")).json()

    assert (raw["used_traffic"], raw["status"]) == (120, "active")
    assert raw["online_at"] is not None
    assert changes == [
        {"username": "heavy", "from": "active", "to": "limited", "next_plan_applied": False}
    ]
    assert user is not None
    assert user["status"] == "limited"
    assert admin["users_usage"] == 120
    assert await control.user("nobody") is None


async def test_review_job_runs_in_the_background(clock: ManualClock) -> None:
    panel = MarzbanEmulator(clock=clock)
    add(panel, "late", expire=int(clock.now) - 1)

    async with serving(create_app(panel, review_interval_s=0.05), name="marzban-job"):
        for _ in range(100):
            if status(panel, "late") == "expired":
                break
            await asyncio.sleep(0.01)

    assert status(panel, "late") == "expired"
