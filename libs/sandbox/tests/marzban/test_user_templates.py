"""§5 User templates: stored as given (with the ORM's defaults), sudo to write, anyone to read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.marzban import MarzbanSandboxControl

from .conftest import login

TEMPLATE = {
    "name": "basic",
    "data_limit": 10 * 1024**3,
    "expire_duration": 30 * 86400,
    "username_prefix": "b_",
    "username_suffix": None,
    "inbounds": {"vless": ["VLESS TCP REALITY"], "vmess": ["VMess TCP", "VMess Websocket"]},
}


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/user_template", json={**TEMPLATE, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def seller(http: httpx.AsyncClient, control: MarzbanSandboxControl) -> httpx.Headers:
    await control.add_admin("seller", "pw")
    return httpx.Headers({"Authorization": f"Bearer {await login(http, 'seller', 'pw')}"})


class TestCreate:
    async def test_answer_is_the_template_with_its_id(self, api: httpx.AsyncClient) -> None:
        body = await create(api)

        assert body == {**TEMPLATE, "inbounds": TEMPLATE["inbounds"], "id": 1}
        assert list(body) == [
            "name",
            "data_limit",
            "expire_duration",
            "username_prefix",
            "username_suffix",
            "inbounds",
            "id",
        ]

    async def test_missing_numbers_are_stored_as_zero(self, api: httpx.AsyncClient) -> None:
        body = await create(api, data_limit=None, expire_duration=None, inbounds={})

        assert (body["data_limit"], body["expire_duration"], body["inbounds"]) == (0, 0, {})

    async def test_tags_are_regrouped_and_unknown_ones_dropped(
        self, api: httpx.AsyncClient
    ) -> None:
        body = await create(
            api, inbounds={"vmess": ["VLESS WS", "NOPE"], "trojan": ["Shadowsocks TCP"]}
        )

        assert body["inbounds"] == {"vless": ["VLESS WS"], "shadowsocks": ["Shadowsocks TCP"]}

    async def test_duplicate_or_missing_name_is_409(self, api: httpx.AsyncClient) -> None:
        await create(api)

        duplicate = await api.post("/api/user_template", json=TEMPLATE)
        nameless = await api.post("/api/user_template", json={"data_limit": 1})

        conflict = {"detail": "Template by this name already exists"}
        assert (duplicate.status_code, duplicate.json()) == (409, conflict)
        assert (nameless.status_code, nameless.json()) == (409, conflict)

    @pytest.mark.parametrize(
        ("fields", "detail"),
        [
            ({"data_limit": -1}, {"data_limit": "Input should be greater than or equal to 0"}),
            (
                {"expire_duration": -5},
                {"expire_duration": "Input should be greater than or equal to 0"},
            ),
            (
                {"username_prefix": ""},
                {"username_prefix": "String should have at least 1 character"},
            ),
            (
                {"username_suffix": "x" * 21},
                {"username_suffix": "String should have at most 20 characters"},
            ),
            (
                {"inbounds": {"wireguard": []}},
                {"[key]": "Input should be 'vmess', 'vless', 'trojan' or 'shadowsocks'"},
            ),
        ],
    )
    async def test_validation(
        self, api: httpx.AsyncClient, fields: dict[str, Any], detail: dict[str, str]
    ) -> None:
        response = await api.post("/api/user_template", json={**TEMPLATE, **fields})

        assert (response.status_code, response.json()) == (422, {"detail": detail})


class TestReadModifyDelete:
    async def test_get_list_and_404(self, api: httpx.AsyncClient) -> None:
        await create(api)
        await create(api, name="pro")

        one = (await api.get("/api/user_template/2")).json()
        listed = (await api.get("/api/user_template")).json()
        page = (await api.get("/api/user_template", params={"offset": 1, "limit": 5})).json()
        missing = await api.get("/api/user_template/9")

        assert one["name"] == "pro"
        assert [t["id"] for t in listed] == [1, 2]
        assert [t["id"] for t in page] == [2]
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "User Template not found"},
        )

    async def test_put_changes_only_what_is_given(self, api: httpx.AsyncClient) -> None:
        await create(api)

        body = (
            await api.put(
                "/api/user_template/1", json={"data_limit": 5, "name": None, "inbounds": {}}
            )
        ).json()
        renamed = (
            await api.put(
                "/api/user_template/1",
                json={"name": "basic+", "inbounds": {"trojan": ["Trojan Websocket"]}},
            )
        ).json()

        assert (body["data_limit"], body["expire_duration"]) == (5, TEMPLATE["expire_duration"])
        assert (body["name"], body["inbounds"]) == ("basic", TEMPLATE["inbounds"])
        assert (renamed["name"], renamed["inbounds"]) == (
            "basic+",
            {"trojan": ["Trojan Websocket"]},
        )

    async def test_put_to_a_taken_name_and_missing_id(self, api: httpx.AsyncClient) -> None:
        await create(api)
        await create(api, name="pro")

        taken = await api.put("/api/user_template/2", json={"name": "basic"})
        missing = await api.put("/api/user_template/9", json={"name": "x"})

        assert (taken.status_code, taken.json()) == (
            409,
            {"detail": "Template by this name already exists"},
        )
        assert missing.status_code == 404

    async def test_delete_answers_null(self, api: httpx.AsyncClient) -> None:
        await create(api)

        removed = await api.delete("/api/user_template/1")
        again = await api.delete("/api/user_template/1")

        assert (removed.status_code, removed.text) == (200, "null")
        assert again.status_code == 404


class TestWhoMay:
    async def test_reseller_reads_but_does_not_write(
        self, api: httpx.AsyncClient, http: httpx.AsyncClient, seller: httpx.Headers
    ) -> None:
        await create(api)

        listed = await http.get("/api/user_template", headers=seller)
        one = await http.get("/api/user_template/1", headers=seller)
        created = await http.post("/api/user_template", json=TEMPLATE, headers=seller)
        # PUT and DELETE authenticate before they look the template up.
        modified = await http.put("/api/user_template/9", json={}, headers=seller)
        removed = await http.delete("/api/user_template/1", headers=seller)

        assert (listed.status_code, one.status_code) == (200, 200)
        forbidden = (403, {"detail": "You're not allowed"})
        for response in (created, modified, removed):
            assert (response.status_code, response.json()) == forbidden

    async def test_anonymous(self, http: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
        missing = await http.get("/api/user_template/9")  # looked up before the token
        await create(api)
        existing = await http.get("/api/user_template/1")

        assert missing.status_code == 404
        assert (existing.status_code, existing.json()) == (401, {"detail": "Not authenticated"})
