"""Rule 1 and the 401/403 catalogue: form login, bearer tokens, sudo and reseller admins."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox.marzban import AdminAccount, MarzbanEmulator, MarzbanSandboxControl

from .conftest import ManualClock, login


def jwt_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return payload


class TestToken:
    async def test_form_login_returns_a_bearer_jwt(
        self, http: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        response = await http.post(
            "/api/admin/token", data={"username": "admin", "password": "admin"}
        )

        assert response.status_code == 200
        body = response.json()
        assert list(body) == ["access_token", "token_type"]
        assert body["token_type"] == "bearer"
        assert body["access_token"].startswith("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.")
        payload = jwt_payload(body["access_token"])
        assert list(payload) == ["sub", "access", "iat", "exp"]
        assert payload["sub"] == "admin"
        assert payload["access"] == "sudo"
        assert payload["iat"] == int(clock.now)
        assert payload["exp"] - payload["iat"] == 1440 * 60

    async def test_json_body_is_rejected_with_field_dict(self, http: httpx.AsyncClient) -> None:
        response = await http.post(
            "/api/admin/token", json={"username": "admin", "password": "admin"}
        )

        assert response.status_code == 422
        assert response.json() == {
            "detail": {"username": "Field required", "password": "Field required"}
        }

    async def test_empty_form_value_counts_as_missing(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/api/admin/token", data={"username": "admin", "password": ""})

        assert response.status_code == 422
        assert response.json() == {"detail": {"password": "Field required"}}

    async def test_grant_type_other_than_password(self, http: httpx.AsyncClient) -> None:
        response = await http.post(
            "/api/admin/token",
            data={"username": "admin", "password": "admin", "grant_type": "client_credentials"},
        )

        assert response.status_code == 422
        assert response.json() == {
            "detail": {"grant_type": "String should match pattern 'password'"}
        }

    async def test_wrong_password(self, http: httpx.AsyncClient) -> None:
        response = await http.post(
            "/api/admin/token", data={"username": "admin", "password": "nope"}
        )

        assert response.status_code == 401
        assert response.json() == {"detail": "Incorrect username or password"}
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("emulator_options", [{"token_expire_minutes": 0}])
    async def test_no_exp_when_expiry_is_disabled(self, http: httpx.AsyncClient) -> None:
        token = await login(http, "admin", "admin")

        assert "exp" not in jwt_payload(token)


class TestBearer:
    @pytest.mark.parametrize("header", [None, "Basic YWRtaW46YWRtaW4=", "Token abc"])
    async def test_missing_or_foreign_scheme_is_not_authenticated(
        self, http: httpx.AsyncClient, header: str | None
    ) -> None:
        headers = {"Authorization": header} if header else {}

        response = await http.get("/api/admin", headers=headers)

        assert response.status_code == 401
        assert response.json() == {"detail": "Not authenticated"}
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Bearer"])
    async def test_bad_token_cannot_be_validated(
        self, http: httpx.AsyncClient, header: str
    ) -> None:
        response = await http.get("/api/admin", headers={"Authorization": header})

        assert response.status_code == 401
        assert response.json() == {"detail": "Could not validate credentials"}
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_token_expires_after_a_day(
        self, http: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        token = await login(http, "admin", "admin")
        headers = {"Authorization": f"Bearer {token}"}
        clock.advance(1440 * 60 - 1)
        assert (await http.get("/api/admin", headers=headers)).status_code == 200

        clock.advance(1)
        response = await http.get("/api/admin", headers=headers)

        assert response.status_code == 401
        assert response.json() == {"detail": "Could not validate credentials"}

    async def test_password_change_invalidates_earlier_tokens(
        self, http: httpx.AsyncClient, clock: ManualClock, control: MarzbanSandboxControl
    ) -> None:
        token = await login(http, "admin", "admin")
        clock.advance(1)
        await control.set_admin_password("admin", "s3cret")
        clock.advance(1)

        stale = await http.get("/api/admin", headers={"Authorization": f"Bearer {token}"})
        fresh_token = await login(http, "admin", "s3cret")
        fresh = await http.get("/api/admin", headers={"Authorization": f"Bearer {fresh_token}"})

        assert stale.status_code == 401
        assert fresh.status_code == 200

    async def test_current_admin(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/api/admin")

        assert response.status_code == 200
        assert response.json() == {
            "username": "admin",
            "is_sudo": True,
            "telegram_id": None,
            "discord_webhook": None,
            "users_usage": 0,
        }


@pytest.mark.parametrize("emulator_options", [{"sudoers": {"root": "toor"}}])
async def test_env_sudoer_has_no_usage_and_owns_nothing(
    http: httpx.AsyncClient, new_user: Callable[..., dict[str, Any]]
) -> None:
    token = await login(http, "root", "toor")
    headers = {"Authorization": f"Bearer {token}"}

    me = await http.get("/api/admin", headers=headers)
    created = await http.post("/api/user", json=new_user("by_root"), headers=headers)

    assert me.json() == {
        "username": "root",
        "is_sudo": True,
        "telegram_id": None,
        "discord_webhook": None,
        "users_usage": None,
    }
    assert created.status_code == 200
    assert created.json()["admin"] is None


@pytest.mark.parametrize(
    "emulator_options",
    [{"admins": [AdminAccount("admin", "admin", True), AdminAccount("reseller", "pw")]}],
)
class TestResellerAdmin:
    async def test_sees_and_manages_only_own_users(
        self,
        api: httpx.AsyncClient,
        http: httpx.AsyncClient,
        new_user: Callable[..., dict[str, Any]],
    ) -> None:
        await api.post("/api/user", json=new_user("sudo_owned"))
        reseller = {"Authorization": f"Bearer {await login(http, 'reseller', 'pw')}"}
        mine = await http.post("/api/user", json=new_user("reseller_owned"), headers=reseller)

        listed = await http.get("/api/users", headers=reseller)
        foreign = await http.get("/api/user/sudo_owned", headers=reseller)
        missing = await http.get("/api/user/nobody", headers=reseller)
        foreign_delete = await http.delete("/api/user/sudo_owned", headers=reseller)

        assert mine.json()["admin"]["username"] == "reseller"
        assert mine.json()["admin"]["is_sudo"] is False
        assert [u["username"] for u in listed.json()["users"]] == ["reseller_owned"]
        assert listed.json()["total"] == 1
        assert (foreign.status_code, foreign.json()) == (403, {"detail": "You're not allowed"})
        assert (missing.status_code, missing.json()) == (404, {"detail": "User not found"})
        assert foreign_delete.status_code == 403

    async def test_sudo_only_endpoints_are_forbidden(
        self, http: httpx.AsyncClient, emulator: MarzbanEmulator
    ) -> None:
        reseller = {"Authorization": f"Bearer {await login(http, 'reseller', 'pw')}"}

        create_admin = await http.post(
            "/api/admin",
            json={"username": "x", "password": "y", "is_sudo": False},
            headers=reseller,
        )
        reset_all = await http.post("/api/users/reset", headers=reseller)

        assert (create_admin.status_code, create_admin.json()) == (
            403,
            {"detail": "You're not allowed"},
        )
        assert reset_all.status_code == 403
        assert "x" not in emulator.admins


async def test_sudo_creates_admin_and_duplicates_conflict(api: httpx.AsyncClient) -> None:
    body = {"username": "seller", "password": "pw", "is_sudo": False}

    first = await api.post("/api/admin", json=body)
    second = await api.post("/api/admin", json=body)

    assert first.status_code == 200
    assert first.json() == {
        "username": "seller",
        "is_sudo": False,
        "telegram_id": None,
        "discord_webhook": None,
        "users_usage": 0,
    }
    assert (second.status_code, second.json()) == (409, {"detail": "Admin already exists"})
