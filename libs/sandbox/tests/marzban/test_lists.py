"""``GET /api/users`` filters, paging and sorting; the expired-users endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox.marzban import MarzbanEmulator

from .conftest import ManualClock

NewUser = Callable[..., dict[str, Any]]


@pytest.fixture
async def crowd(api: httpx.AsyncClient, new_user: NewUser, emulator: MarzbanEmulator) -> None:
    """Four users created in this order, with distinct usage, limits and notes."""
    crowd: list[tuple[str, dict[str, Any], int]] = [
        ("carol", {"data_limit": 3000, "note": "tg:3"}, 300),
        ("alice", {"data_limit": 1000, "note": "tg:1 vip"}, 100),
        ("dave", {"note": "tg:4"}, 400),
        ("bob", {"data_limit": 2000}, 200),
    ]
    for name, fields, traffic in crowd:
        assert (await api.post("/api/user", json=new_user(name, **fields))).status_code == 200
        emulator.add_traffic(name, traffic)
    await api.put("/api/user/dave", json={"status": "disabled"})


def names(response: httpx.Response) -> list[str]:
    return [user["username"] for user in response.json()["users"]]


@pytest.mark.usefixtures("crowd")
class TestListUsers:
    async def test_all_users_in_insertion_order_with_total(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/api/users")

        assert response.status_code == 200
        assert list(response.json()) == ["users", "total"]
        assert names(response) == ["carol", "alice", "dave", "bob"]
        assert response.json()["total"] == 4

    async def test_total_counts_before_offset_and_limit(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/api/users", params={"offset": 1, "limit": 2})

        assert names(response) == ["alice", "dave"]
        assert response.json()["total"] == 4

    async def test_zero_limit_means_no_limit(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/api/users", params={"offset": 0, "limit": 0})

        assert len(names(response)) == 4

    async def test_filters(self, api: httpx.AsyncClient) -> None:
        by_name = await api.get("/api/users", params=[("username", "bob"), ("username", "alice")])
        by_note = await api.get("/api/users", params={"search": "VIP"})
        by_name_part = await api.get("/api/users", params={"search": "ar"})
        by_status = await api.get("/api/users", params={"status": "disabled"})

        assert names(by_name) == ["alice", "bob"]
        assert names(by_note) == ["alice"]
        assert names(by_name_part) == ["carol"]
        assert names(by_status) == ["dave"]
        assert by_status.json()["total"] == 1

    async def test_sorting(self, api: httpx.AsyncClient) -> None:
        by_name = await api.get("/api/users", params={"sort": "username"})
        by_usage_desc = await api.get("/api/users", params={"sort": "-used_traffic"})
        # NULL sorts first ascending, as in SQLite: dave has no data limit.
        by_limit = await api.get("/api/users", params={"sort": "data_limit,username"})

        assert names(by_name) == ["alice", "bob", "carol", "dave"]
        assert names(by_usage_desc) == ["dave", "carol", "bob", "alice"]
        assert names(by_limit) == ["dave", "alice", "bob", "carol"]

    @pytest.mark.parametrize("sort", ["bogus", "username,-bogus", "--expire"])
    async def test_unknown_sort_option(self, api: httpx.AsyncClient, sort: str) -> None:
        response = await api.get("/api/users", params={"sort": sort})

        bad = sort.split(",")[-1]
        assert response.status_code == 400
        assert response.json() == {"detail": f'"{bad}" is not a valid sort option'}

    async def test_invalid_status_and_paging(self, api: httpx.AsyncClient) -> None:
        status = await api.get("/api/users", params={"status": "gone"})
        offset = await api.get("/api/users", params={"offset": "first"})

        assert status.status_code == 422
        assert status.json() == {
            "detail": {
                "status": "Input should be 'active', 'disabled', 'limited', 'expired' or 'on_hold'"
            }
        }
        assert offset.json() == {
            "detail": {
                "offset": "Input should be a valid integer, unable to parse string as an integer"
            }
        }


class TestExpiredUsers:
    async def test_lists_expired_and_limited_users_with_an_expiry_in_the_window(
        self,
        api: httpx.AsyncClient,
        new_user: NewUser,
        emulator: MarzbanEmulator,
        clock: ManualClock,
    ) -> None:
        past = int(clock.now) - 3600
        await api.post("/api/user", json=new_user("gone", expire=past))
        await api.post("/api/user", json=new_user("spent", expire=past + 10, data_limit=10))
        await api.post("/api/user", json=new_user("fresh"))
        emulator.add_traffic("spent", 50)
        emulator.review()

        listed = await api.get("/api/users/expired")
        windowed = await api.get(
            "/api/users/expired",
            params={
                "expired_after": "1970-01-02T00:00:00Z",
                "expired_before": "2000-01-01T00:00:00Z",
            },
        )
        deleted = await api.delete("/api/users/expired")
        again = await api.delete("/api/users/expired")

        assert listed.json() == ["gone", "spent"]
        assert windowed.json() == []
        assert deleted.json() == ["gone", "spent"]
        assert list(emulator.users) == ["fresh"]
        assert (again.status_code, again.json()) == (
            404,
            {"detail": "No expired users found in the specified date range"},
        )

    async def test_bad_window(self, api: httpx.AsyncClient) -> None:
        inverted = await api.get(
            "/api/users/expired",
            params={
                "expired_after": "2024-02-01T00:00:00Z",
                "expired_before": "2024-01-01T00:00:00Z",
            },
        )
        unparsable = await api.get("/api/users/expired", params={"expired_after": "yesterday"})

        assert (inverted.status_code, inverted.json()) == (
            400,
            {"detail": "Start date must be before end date"},
        )
        assert unparsable.status_code == 422
        assert list(unparsable.json()["detail"]) == ["expired_after"]


async def test_usage_endpoints(
    api: httpx.AsyncClient, new_user: NewUser, emulator: MarzbanEmulator
) -> None:
    await api.post("/api/user", json=new_user("alice"))
    emulator.add_traffic("alice", 1234)

    mine = await api.get("/api/user/alice/usage")
    everyone = await api.get("/api/users/usage")
    bad = await api.get("/api/user/alice/usage", params={"start": "not a date"})

    assert mine.json() == {
        "usages": [{"node_id": None, "node_name": "Master", "used_traffic": 1234}],
        "username": "alice",
    }
    assert everyone.json() == {
        "usages": [{"node_id": None, "node_name": "Master", "used_traffic": 1234}]
    }
    assert (bad.status_code, bad.json()) == (400, {"detail": "Invalid date range or format"})
