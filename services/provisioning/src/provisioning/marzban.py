"""Marzban v0.8.4 REST client: admin token, then users by name.

Follows the panel's quirks (see the reference): the token form is form-encoded, every
success is 200, ``inbounds`` is always sent on create, ``proxies`` never on modify (it
would replace the credentials), ``0`` means unlimited and comes back as ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx

from chassis.http import third_party_client


class MarzbanError(Exception):
    """Any failure talking to a panel."""


class MarzbanUnavailable(MarzbanError):
    """The panel did not answer usefully (5xx, timeout, network): try again later."""


class MarzbanRejected(MarzbanError):
    """The panel refused the request (4xx): repeating it unchanged will not help."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class UserExists(MarzbanRejected):
    """409 on create: a user with this name is already there."""


@dataclass(frozen=True, slots=True)
class PanelUser:
    username: str
    status: str
    expire: int | None
    data_limit: int | None
    subscription_url: str
    links: tuple[str, ...]
    used_traffic: int = 0
    """Bytes used since the panel last reset the user's usage."""
    traffic_reset: str = "none"
    """When the panel starts the allowance again by itself: ``none`` or ``month``."""

    @classmethod
    def from_api(cls, body: Any) -> PanelUser:
        try:
            return cls(
                username=str(body["username"]),
                status=str(body["status"]),
                expire=None if body.get("expire") is None else int(body["expire"]),
                data_limit=None if body.get("data_limit") is None else int(body["data_limit"]),
                subscription_url=str(body["subscription_url"]),
                links=tuple(str(link) for link in body.get("links") or ()),
                used_traffic=int(body.get("used_traffic") or 0),
                traffic_reset=_TRAFFIC_RESETS.get(
                    str(body.get("data_limit_reset_strategy") or "no_reset"), "other"
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MarzbanError(f"not a Marzban user object: {exc!r}") from exc


# The platform's traffic resets as Marzban's ``data_limit_reset_strategy``, and back.
_RESET_STRATEGIES: Final = {"none": "no_reset", "month": "month"}
_TRAFFIC_RESETS: Final = {strategy: reset for reset, strategy in _RESET_STRATEGIES.items()}


@dataclass(frozen=True, slots=True)
class DesiredUser:
    """What a panel user should look like; ``0`` means unlimited, as on the panel.

    ``status`` is ``active``, or ``disabled`` for a user whose paid access is over before
    its expiry came (a refund): the panel would only mark it ``expired`` at its next
    review, and refuses to create a user that is not active.
    """

    username: str
    expire: int
    data_limit: int
    note: str
    status: str = "active"
    traffic_reset: str = "none"
    """``none``: one allowance for the period; ``month``: the panel resets the usage every
    month (Marzban's ``month`` strategy counts 30 days from the last reset)."""

    @property
    def active(self) -> bool:
        return self.status == "active"

    def matches(self, user: PanelUser) -> bool:
        return (
            user.status == self.status
            and (user.expire or 0) == self.expire
            and (user.data_limit or 0) == self.data_limit
            and user.traffic_reset == self.traffic_reset
        )


class MarzbanClient:
    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        protocols: list[str],
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = third_party_client(
            base_url=base_url.rstrip("/"), timeout_s=timeout_s, transport=transport
        )
        self._username = username
        self._password = password
        self._protocols = protocols
        self._token: str | None = None

    async def get_user(self, username: str) -> PanelUser | None:
        response = await self._call("GET", f"/api/user/{username}")
        if response.status_code == 404:
            return None
        return PanelUser.from_api(self._json(response))

    async def create_user(self, desired: DesiredUser) -> PanelUser:
        body = {
            "username": desired.username,
            # An empty settings object makes the panel generate the credentials; an empty
            # inbounds map means "all inbounds of each protocol" (omitting it means none).
            "proxies": {protocol: {} for protocol in self._protocols},
            "inbounds": {},
            "expire": desired.expire,
            "data_limit": desired.data_limit,
            "data_limit_reset_strategy": _RESET_STRATEGIES[desired.traffic_reset],
            "status": "active",
            "note": desired.note,
        }
        response = await self._call("POST", "/api/user", json=body)
        if response.status_code == 409:
            raise UserExists(409, self._detail(response))
        return PanelUser.from_api(self._json(response))

    async def modify_user(self, desired: DesiredUser) -> PanelUser | None:
        """Set expiry, limit and status, keeping credentials; ``None`` if there is no such user."""
        body = {
            "expire": desired.expire,
            "data_limit": desired.data_limit,
            "data_limit_reset_strategy": _RESET_STRATEGIES[desired.traffic_reset],
            "status": desired.status,
        }
        response = await self._call("PUT", f"/api/user/{desired.username}", json=body)
        if response.status_code == 404:
            return None
        return PanelUser.from_api(self._json(response))

    async def list_users(self, *, offset: int, limit: int) -> tuple[list[PanelUser], int]:
        """One page of the panel's users (in the panel's order) and how many there are."""
        response = await self._call("GET", "/api/users", params={"offset": offset, "limit": limit})
        body = self._json(response)
        try:
            users, total = body["users"], int(body["total"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MarzbanError(f"not a Marzban user list: {exc!r}") from exc
        return [PanelUser.from_api(user) for user in users], total

    async def reset_usage(self, username: str) -> PanelUser | None:
        """Start the user's traffic count again from zero (its lifetime total is kept); the
        panel makes a limited user active again. ``None`` if there is no such user."""
        response = await self._call("POST", f"/api/user/{username}/reset")
        if response.status_code == 404:
            return None
        return PanelUser.from_api(self._json(response))

    async def delete_user(self, username: str) -> bool:
        """Remove the user and its links; False if there was no such user."""
        response = await self._call("DELETE", f"/api/user/{username}")
        return response.status_code != 404

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request with a valid token: one fresh login when the panel says the token is stale."""
        for fresh_login in (False, True):
            if self._token is None or fresh_login:
                await self._login()
            try:
                response = await self._http.request(
                    method, path, headers={"Authorization": f"Bearer {self._token}"}, **kwargs
                )
            except httpx.HTTPError as exc:
                raise MarzbanUnavailable(f"{method} {path}: {exc!r}") from exc
            if response.status_code != 401:
                break
        if response.status_code >= 500:
            raise MarzbanUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code not in (200, 404, 409):
            raise MarzbanRejected(response.status_code, self._detail(response))
        return response

    async def _login(self) -> None:
        try:
            response = await self._http.post(
                "/api/admin/token",
                data={"username": self._username, "password": self._password},
            )
        except httpx.HTTPError as exc:
            raise MarzbanUnavailable(f"login: {exc!r}") from exc
        if response.status_code >= 500:
            raise MarzbanUnavailable(f"login: HTTP {response.status_code}")
        if response.status_code != 200:
            raise MarzbanRejected(response.status_code, self._detail(response))
        self._token = str(self._json(response)["access_token"])

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise MarzbanUnavailable(f"HTTP {response.status_code} with a non-JSON body") from exc

    @staticmethod
    def _detail(response: httpx.Response) -> object:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200]
        return body.get("detail", body) if isinstance(body, dict) else body

    async def aclose(self) -> None:
        await self._http.aclose()
