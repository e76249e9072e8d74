"""§4 Nodes: the sudo-only CRUD, the simulated connection, and usage per node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox.marzban import MarzbanEmulator, MarzbanSandboxControl, SandboxControlError

from .conftest import ManualClock, login

NewUser = Callable[..., dict[str, Any]]
NODE = {"name": "de-1", "address": "203.0.113.10"}


async def add_node(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/node", json={**NODE, **fields})
    assert response.status_code == 200, response.text
    node: dict[str, Any] = response.json()
    return node


@pytest.fixture
async def seller(http: httpx.AsyncClient, control: MarzbanSandboxControl) -> httpx.Headers:
    await control.add_admin("seller", "pw")
    return httpx.Headers({"Authorization": f"Bearer {await login(http, 'seller', 'pw')}"})


class TestCreate:
    async def test_answer_is_connecting_then_the_node_connects(
        self, api: httpx.AsyncClient
    ) -> None:
        created = await add_node(api, port=62060, api_port=62061, usage_coefficient=2.5)

        assert created == {
            "name": "de-1",
            "address": "203.0.113.10",
            "port": 62060,
            "api_port": 62061,
            "usage_coefficient": 1.0,  # ignored on create
            "id": 1,
            "xray_version": None,
            "status": "connecting",
            "message": None,
        }
        later = (await api.get("/api/node/1")).json()
        assert (later["status"], later["xray_version"], later["message"]) == (
            "connected",
            "1.8.24",
            None,
        )

    async def test_defaults_and_key_order(self, api: httpx.AsyncClient) -> None:
        created = await add_node(api)

        assert list(created) == [
            "name",
            "address",
            "port",
            "api_port",
            "usage_coefficient",
            "id",
            "xray_version",
            "status",
            "message",
        ]
        assert (created["port"], created["api_port"]) == (62050, 62051)

    async def test_duplicate_name_is_409_but_names_are_case_sensitive(
        self, api: httpx.AsyncClient
    ) -> None:
        await add_node(api)

        duplicate = await api.post("/api/node", json=NODE)
        other_case = await api.post("/api/node", json={**NODE, "name": "DE-1"})

        assert (duplicate.status_code, duplicate.json()) == (
            409,
            {"detail": 'Node "de-1" already exists'},
        )
        assert other_case.status_code == 200

    async def test_add_as_new_host_adds_one_host_to_every_inbound(
        self, api: httpx.AsyncClient, emulator: MarzbanEmulator
    ) -> None:
        await add_node(api)
        await add_node(api, name="fr-1", address="198.51.100.2", add_as_new_host=False)

        hosts = (await api.get("/api/hosts")).json()

        assert set(hosts) == {inbound.tag for inbound in emulator.core.inbounds}
        for tag_hosts in hosts.values():
            assert [h["address"] for h in tag_hosts] == ["{SERVER_IP}", "203.0.113.10"]
            assert tag_hosts[1]["remark"] == "de-1 ({USERNAME}) [{PROTOCOL} - {TRANSPORT}]"
            assert tag_hosts[1]["is_disabled"] is False

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            ({"address": "x"}, {"name": "Field required"}),
            (
                {**NODE, "usage_coefficient": 0},
                {"usage_coefficient": "Input should be greater than 0"},
            ),
            (
                {**NODE, "port": "many"},
                {"port": "Input should be a valid integer, unable to parse string as an integer"},
            ),
        ],
    )
    async def test_validation(
        self, api: httpx.AsyncClient, body: dict[str, Any], detail: dict[str, str]
    ) -> None:
        response = await api.post("/api/node", json=body)

        assert (response.status_code, response.json()) == (422, {"detail": detail})

    async def test_a_deleted_last_id_is_handed_out_again(self, api: httpx.AsyncClient) -> None:
        await add_node(api)
        second = await add_node(api, name="fr-1")
        await api.delete(f"/api/node/{second['id']}")

        third = await add_node(api, name="nl-1")

        assert third["id"] == second["id"] == 2


class TestReadAndModify:
    async def test_get_list_and_404(self, api: httpx.AsyncClient, http: httpx.AsyncClient) -> None:
        await add_node(api)
        await add_node(api, name="fr-1")

        listed = (await api.get("/api/nodes")).json()
        missing = await api.get("/api/node/9")
        # The node is looked up before the token is read.
        anonymous_missing = await http.get("/api/node/9")
        anonymous = await http.get("/api/node/1")

        assert [n["name"] for n in listed] == ["de-1", "fr-1"]
        assert (missing.status_code, missing.json()) == (404, {"detail": "Node not found"})
        assert anonymous_missing.status_code == 404
        assert (anonymous.status_code, anonymous.json()) == (
            401,
            {"detail": "Not authenticated"},
        )

    async def test_put_reconnects_and_answers_the_row_as_update_left_it(
        self, api: httpx.AsyncClient
    ) -> None:
        await add_node(api)
        assert (await api.get("/api/node/1")).json()["status"] == "connected"

        answer = await api.put(
            "/api/node/1", json={"usage_coefficient": 1.5, "address": "h.example"}
        )
        later = (await api.get("/api/node/1")).json()

        assert answer.status_code == 200
        body = answer.json()
        assert (body["status"], body["xray_version"]) == ("connecting", "1.8.24")
        assert (body["usage_coefficient"], body["address"]) == (1.5, "h.example")
        assert later["status"] == "connected"

    async def test_put_disabled_stays_disabled_and_clears_version(
        self, api: httpx.AsyncClient
    ) -> None:
        await add_node(api)
        await api.get("/api/node/1")

        answer = (await api.put("/api/node/1", json={"status": "disabled"})).json()
        later = (await api.get("/api/node/1")).json()

        assert (answer["status"], answer["xray_version"], answer["message"]) == (
            "disabled",
            None,
            None,
        )
        assert later["status"] == "disabled"

    async def test_put_without_status_enables_a_disabled_node(self, api: httpx.AsyncClient) -> None:
        await add_node(api)
        await api.put("/api/node/1", json={"status": "disabled"})

        answer = (await api.put("/api/node/1", json={"name": "de-2"})).json()

        assert (answer["status"], answer["name"]) == ("connecting", "de-2")
        assert (await api.get("/api/node/1")).json()["status"] == "connected"

    async def test_put_validation_and_unknown_status(self, api: httpx.AsyncClient) -> None:
        await add_node(api)

        bad = await api.put("/api/node/1", json={"status": "asleep"})
        missing = await api.put("/api/node/7", json={"status": "asleep"})

        assert bad.status_code == 422
        assert bad.json() == {
            "detail": {"status": "Input should be 'connected', 'connecting', 'error' or 'disabled'"}
        }
        assert missing.status_code == 404  # the lookup comes before the body

    async def test_reconnect_and_delete(self, api: httpx.AsyncClient) -> None:
        await add_node(api)

        reconnect = await api.post("/api/node/1/reconnect")
        removed = await api.delete("/api/node/1")
        gone = await api.get("/api/node/1")

        assert reconnect.json() == {"detail": "Reconnection task scheduled"}
        assert (removed.status_code, removed.json()) == (200, {})
        assert gone.status_code == 404

    async def test_reconnect_connects_even_a_disabled_node(self, api: httpx.AsyncClient) -> None:
        await add_node(api)
        await api.put("/api/node/1", json={"status": "disabled"})

        await api.post("/api/node/1/reconnect")

        assert (await api.get("/api/node/1")).json()["status"] == "connected"

    async def test_settings_carry_a_certificate(self, api: httpx.AsyncClient) -> None:
        settings = (await api.get("/api/node/settings")).json()

        assert list(settings) == ["min_node_version", "certificate"]
        assert settings["min_node_version"] == "v0.2.0"
        assert settings["certificate"].startswith("-----BEGIN CERTIFICATE-----\n")
        assert settings["certificate"].rstrip().endswith("-----END CERTIFICATE-----")


class TestSudoOnly:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/node/settings"),
            ("POST", "/api/node"),
            ("GET", "/api/nodes"),
            ("GET", "/api/node/1"),
            ("PUT", "/api/node/1"),
            ("DELETE", "/api/node/1"),
            ("POST", "/api/node/1/reconnect"),
            ("GET", "/api/nodes/usage"),
        ],
    )
    async def test_a_reseller_is_not_allowed(
        self,
        api: httpx.AsyncClient,
        http: httpx.AsyncClient,
        seller: httpx.Headers,
        method: str,
        path: str,
    ) -> None:
        await add_node(api)

        response = await http.request(method, path, headers=seller, json=NODE)

        assert (response.status_code, response.json()) == (403, {"detail": "You're not allowed"})


class TestSimulatedConnection:
    async def test_an_unreachable_node_ends_in_error(
        self, api: httpx.AsyncClient, control: MarzbanSandboxControl
    ) -> None:
        await add_node(api)
        await control.set_node_health(1, reachable=False)

        node = (await api.get("/api/node/1")).json()

        assert (node["status"], node["message"], node["xray_version"]) == (
            "error",
            "[Errno 111] Connection refused",
            None,
        )

    async def test_taking_a_connected_node_down_and_back(
        self, api: httpx.AsyncClient, control: MarzbanSandboxControl
    ) -> None:
        await add_node(api)
        assert (await api.get("/api/node/1")).json()["status"] == "connected"

        down = await control.set_node_health(1, reachable=False, message="timed out")
        seen_down = (await api.get("/api/node/1")).json()
        await control.set_node_health(1, reachable=True, xray_version="24.12.31")
        seen_up = (await api.get("/api/node/1")).json()

        assert (down["status"], down["message"]) == ("error", "timed out")
        assert (seen_down["status"], seen_down["message"]) == ("error", "timed out")
        assert (seen_up["status"], seen_up["xray_version"], seen_up["message"]) == (
            "connected",
            "24.12.31",
            None,
        )

    @pytest.mark.parametrize("emulator_options", [{"node_connect_delay_s": 5}])
    async def test_the_attempt_takes_the_configured_time(
        self, api: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        await add_node(api)

        before = (await api.get("/api/node/1")).json()["status"]
        clock.advance(5)
        after = (await api.get("/api/node/1")).json()["status"]

        assert (before, after) == ("connecting", "connected")

    async def test_health_check_reconnects_a_node_that_came_back(
        self, api: httpx.AsyncClient, control: MarzbanSandboxControl, emulator: MarzbanEmulator
    ) -> None:
        await add_node(api)
        await control.set_node_health(1, reachable=False)
        emulator.nodes.nodes[1].reachable = True  # back, but nobody told the panel yet

        still_error = (await api.get("/api/node/1")).json()["status"]
        checked = await control.run_health_check()

        assert still_error == "error"
        assert checked[0]["status"] == "connected"

    async def test_control_errors(self, control: MarzbanSandboxControl) -> None:
        with pytest.raises(SandboxControlError) as missing:
            await control.set_node_health(4, reachable=False)

        assert missing.value.status_code == 404


class TestUsage:
    async def test_master_row_then_one_row_per_node(
        self, api: httpx.AsyncClient, control: MarzbanSandboxControl
    ) -> None:
        await add_node(api)
        await add_node(api, name="fr-1")

        empty = (await api.get("/api/nodes/usage")).json()
        await control.add_node_usage(1, uplink=10, downlink=20)
        await control.add_node_usage(None, uplink=1, downlink=2)
        usage = (await api.get("/api/nodes/usage")).json()

        assert empty == {
            "usages": [
                {"node_id": None, "node_name": "Master", "uplink": 0, "downlink": 0},
                {"node_id": 1, "node_name": "de-1", "uplink": 0, "downlink": 0},
                {"node_id": 2, "node_name": "fr-1", "uplink": 0, "downlink": 0},
            ]
        }
        assert [(u["uplink"], u["downlink"]) for u in usage["usages"]] == [(1, 2), (10, 20), (0, 0)]

    async def test_user_traffic_through_a_node_applies_its_coefficient(
        self,
        api: httpx.AsyncClient,
        control: MarzbanSandboxControl,
        new_user: NewUser,
    ) -> None:
        await api.post("/api/user", json=new_user())
        await add_node(api)
        await api.put("/api/node/1", json={"usage_coefficient": 2.5})
        await api.get("/api/node/1")

        user = await control.add_traffic("demo_user1", 1000, node_id=1)
        await control.add_traffic("demo_user1", 7)
        user_usage = (await api.get("/api/user/demo_user1/usage")).json()
        users_usage = (await api.get("/api/users/usage")).json()
        nodes_usage = (await api.get("/api/nodes/usage")).json()
        admin = (await api.get("/api/admin")).json()

        assert user["used_traffic"] == 2500
        assert user_usage == {
            "usages": [
                {"node_id": None, "node_name": "Master", "used_traffic": 7},
                {"node_id": 1, "node_name": "de-1", "used_traffic": 2500},
            ],
            "username": "demo_user1",
        }
        assert users_usage["usages"] == user_usage["usages"]
        # The node's own outbound counts raw bytes.
        assert nodes_usage["usages"][1]["downlink"] == 1000
        assert admin["users_usage"] == 2507

    async def test_traffic_needs_a_connected_node(
        self,
        api: httpx.AsyncClient,
        control: MarzbanSandboxControl,
        new_user: NewUser,
    ) -> None:
        await api.post("/api/user", json=new_user())
        await add_node(api)
        await control.set_node_health(1, reachable=False)

        with pytest.raises(SandboxControlError) as refused:
            await control.add_traffic("demo_user1", 10, node_id=1)
        with pytest.raises(SandboxControlError) as unknown:
            await control.add_traffic("demo_user1", 10, node_id=9)

        assert refused.value.status_code == 409
        assert unknown.value.status_code == 404

    async def test_a_deleted_nodes_usage_falls_back_to_the_master(
        self,
        api: httpx.AsyncClient,
        control: MarzbanSandboxControl,
        new_user: NewUser,
    ) -> None:
        await api.post("/api/user", json=new_user())
        await add_node(api)
        await api.get("/api/node/1")
        await control.add_traffic("demo_user1", 100, node_id=1)

        await api.delete("/api/node/1")
        user_usage = (await api.get("/api/user/demo_user1/usage")).json()["usages"]
        nodes_usage = (await api.get("/api/nodes/usage")).json()["usages"]

        assert user_usage == [{"node_id": None, "node_name": "Master", "used_traffic": 100}]
        assert nodes_usage == [
            {"node_id": None, "node_name": "Master", "uplink": 0, "downlink": 100}
        ]

    async def test_date_window(self, api: httpx.AsyncClient) -> None:
        bad = await api.get("/api/nodes/usage", params={"start": "yesterday"})
        backwards = await api.get(
            "/api/nodes/usage",
            params={"start": "2026-01-02T00:00:00", "end": "2026-01-01T00:00:00"},
        )

        assert (bad.status_code, bad.json()) == (400, {"detail": "Invalid date range or format"})
        assert (backwards.status_code, backwards.json()) == (
            400,
            {"detail": "Start date must be before end date"},
        )
