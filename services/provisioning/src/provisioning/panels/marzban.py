"""Marzban v0.8 REST client: admin token, then users by name.

Follows the panel's quirks (see the reference): the token form is form-encoded, every
success is 200, ``inbounds`` is always sent on create, ``proxies`` on modify only to change
a user's protocols (it replaces them: the kept ones are sent with their settings, so their
credentials stay), ``0`` means unlimited and comes back as ``null``. The
client speaks Marzban 0.8 (0.8.0 to 0.8.4 share one REST surface) and refuses a panel
that reports another version: for a 0.x release the minor number is the major one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import httpx

from chassis.http import third_party_client
from provisioning.panels.client import (
    DesiredUser,
    NodeState,
    PanelCredentialsRefused,
    PanelIncompatible,
    PanelProbe,
    PanelRejected,
    PanelUnavailable,
    PanelUser,
    UserExists,
)

SPOKEN_VERSION: Final = "0.8"
"""The release line this client speaks; any ``0.8.x`` is accepted."""


def speaks(version: str) -> bool:
    return version == SPOKEN_VERSION or version.startswith(SPOKEN_VERSION + ".")


def _user(body: Any) -> PanelUser:
    """A Marzban ``UserResponse`` as the platform's panel user."""
    try:
        return PanelUser(
            username=str(body["username"]),
            status=str(body["status"]),
            expires_at=None if body.get("expire") is None else int(body["expire"]),
            traffic_limit_bytes=None if body.get("data_limit") is None else int(body["data_limit"]),
            subscription_url=str(body["subscription_url"]),
            links=tuple(str(link) for link in body.get("links") or ()),
            used_traffic_bytes=int(body.get("used_traffic") or 0),
            traffic_reset=_TRAFFIC_RESETS.get(
                str(body.get("data_limit_reset_strategy") or "no_reset"), "other"
            ),
            protocols=tuple(sorted((body.get("proxies") or {}).keys())),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PanelUnavailable(f"not a Marzban user object: {exc!r}") from exc


# The platform's traffic resets as Marzban's ``data_limit_reset_strategy``, and back.
_RESET_STRATEGIES: Final = {"none": "no_reset", "month": "month"}
_TRAFFIC_RESETS: Final = {strategy: reset for reset, strategy in _RESET_STRATEGIES.items()}


class MarzbanClient:
    kind: ClassVar[str] = "marzban"

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
        self._version: str | None = None

    async def probe(self) -> PanelProbe:
        # A fresh login each time: the probe proves the credentials, and reads the
        # version again (an incompatible panel may have been upgraded since).
        self._token, self._version = None, None
        system = self._json(await self._call("GET", "/api/system"))
        inbounds = self._json(await self._call("GET", "/api/inbounds"))
        nodes_response = await self._call("GET", "/api/nodes", allow=(403, 404))
        try:
            version = str(system["version"])
            users = int(system.get("total_user") or 0)
            protocols = frozenset(
                str(protocol) for protocol, tags in dict(inbounds).items() if tags
            )
            nodes = (
                tuple(
                    NodeState(
                        name=str(node["name"]),
                        address=str(node["address"]),
                        status=str(node["status"]),
                        message=None if node.get("message") is None else str(node["message"]),
                    )
                    for node in self._json(nodes_response)
                )
                if nodes_response.status_code == 200
                else ()
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PanelUnavailable(f"not Marzban's system, inbounds or nodes: {exc!r}") from exc
        self._check_version(version)
        return PanelProbe(version=version, users=users, protocols=protocols, nodes=nodes)

    def _check_version(self, version: str) -> None:
        self._version = version
        if not speaks(version):
            raise PanelIncompatible(
                f"the panel reports Marzban {version}; this client speaks {SPOKEN_VERSION}.x"
            )

    async def get_user(self, username: str) -> PanelUser | None:
        response = await self._call("GET", f"/api/user/{username}")
        if response.status_code == 404:
            return None
        return _user(self._json(response))

    async def create_user(self, desired: DesiredUser) -> PanelUser:
        body = {
            "username": desired.username,
            # An empty settings object makes the panel generate the credentials; an empty
            # inbounds map means "all inbounds of each protocol" (omitting it means none).
            "proxies": {protocol: {} for protocol in desired.protocols or self._protocols},
            "inbounds": {},
            "expire": desired.expires_at,
            "data_limit": desired.traffic_limit_bytes,
            "data_limit_reset_strategy": _RESET_STRATEGIES[desired.traffic_reset],
            "status": "active",
            "note": desired.note,
        }
        response = await self._call("POST", "/api/user", json=body)
        if response.status_code == 409:
            raise UserExists(409, self._detail(response))
        return _user(self._json(response))

    async def modify_user(self, desired: DesiredUser) -> PanelUser | None:
        """Set expiry, limit and status, keeping credentials, and the protocols when the
        desired user names them; ``None`` if there is no such user."""
        body: dict[str, Any] = {
            "expire": desired.expires_at,
            "data_limit": desired.traffic_limit_bytes,
            "data_limit_reset_strategy": _RESET_STRATEGIES[desired.traffic_reset],
            "status": desired.status,
        }
        if desired.protocols:
            # One read more, for users given a chosen protocol only: their proxies are sent
            # only when they differ (a new protocol gets fresh credentials from the panel).
            current = await self._call("GET", f"/api/user/{desired.username}")
            if current.status_code == 404:
                return None
            proxies = self._json(current).get("proxies") or {}
            if set(proxies) != set(desired.protocols):
                body["proxies"] = {name: proxies.get(name) or {} for name in desired.protocols}
        response = await self._call("PUT", f"/api/user/{desired.username}", json=body)
        if response.status_code == 404:
            return None
        return _user(self._json(response))

    async def set_status(self, username: str, status: str) -> PanelUser | None:
        # Only ``status``: omitted fields are left as they are (``next_plan`` aside, which
        # the platform never sets).
        response = await self._call("PUT", f"/api/user/{username}", json={"status": status})
        if response.status_code == 404:
            return None
        return _user(self._json(response))

    async def set_protocols(self, username: str, protocols: Sequence[str]) -> PanelUser | None:
        # ``proxies`` on modify replaces the user's: those it keeps are sent back with their
        # settings (an empty one would be given new credentials), new ones empty (generated),
        # and without ``inbounds`` a new protocol gets all of its inbounds.
        response = await self._call("GET", f"/api/user/{username}")
        if response.status_code == 404:
            return None
        body = self._json(response)
        current = (body.get("proxies") if isinstance(body, dict) else None) or {}
        if not isinstance(current, dict):
            raise PanelUnavailable(f"not a Marzban user's proxies: {current!r}"[:200])
        proxies = {protocol: current.get(protocol) or {} for protocol in protocols}
        response = await self._call("PUT", f"/api/user/{username}", json={"proxies": proxies})
        if response.status_code == 404:
            return None
        return _user(self._json(response))

    async def list_users(self, *, offset: int, limit: int) -> tuple[list[PanelUser], int]:
        """One page of the panel's users (in the panel's order) and how many there are."""
        response = await self._call("GET", "/api/users", params={"offset": offset, "limit": limit})
        body = self._json(response)
        try:
            users, total = body["users"], int(body["total"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PanelUnavailable(f"not a Marzban user list: {exc!r}") from exc
        return [_user(user) for user in users], total

    async def reset_usage(self, username: str) -> PanelUser | None:
        """Start the user's traffic count again from zero (its lifetime total is kept); the
        panel makes a limited user active again. ``None`` if there is no such user."""
        response = await self._call("POST", f"/api/user/{username}/reset")
        if response.status_code == 404:
            return None
        return _user(self._json(response))

    async def delete_user(self, username: str) -> bool:
        """Remove the user and its links; False if there was no such user."""
        response = await self._call("DELETE", f"/api/user/{username}")
        return response.status_code != 404

    async def _call(
        self, method: str, path: str, *, allow: tuple[int, ...] = (404, 409), **kwargs: Any
    ) -> httpx.Response:
        """A request with a valid token: one fresh login when the panel says the token is
        stale. Statuses in ``allow`` are the caller's to read; other 4xx are refusals."""
        if self._version is not None:
            self._check_version(self._version)  # an incompatible panel is written nothing
        for fresh_login in (False, True):
            if self._token is None or fresh_login:
                await self._login()
            try:
                response = await self._http.request(
                    method, path, headers={"Authorization": f"Bearer {self._token}"}, **kwargs
                )
            except httpx.HTTPError as exc:
                raise PanelUnavailable(f"{method} {path}: {exc!r}") from exc
            if response.status_code != 401:
                break
        if response.status_code >= 500:
            raise PanelUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code == 401 or (response.status_code == 403 and 403 not in allow):
            # A token just issued and still refused: the admin's rights, not this request.
            raise PanelCredentialsRefused(
                f"{method} {path}: HTTP {response.status_code}: {self._detail(response)}"
            )
        if response.status_code != 200 and response.status_code not in allow:
            raise PanelRejected(response.status_code, self._detail(response))
        return response

    async def _login(self) -> None:
        try:
            response = await self._http.post(
                "/api/admin/token",
                data={"username": self._username, "password": self._password},
            )
        except httpx.HTTPError as exc:
            raise PanelUnavailable(f"login: {exc!r}") from exc
        if response.status_code >= 500:
            raise PanelUnavailable(f"login: HTTP {response.status_code}")
        if response.status_code in (401, 403):
            raise PanelCredentialsRefused(
                f"login: HTTP {response.status_code}: {self._detail(response)}"
            )
        if response.status_code != 200:
            raise PanelRejected(response.status_code, self._detail(response))
        try:
            token = str(self._json(response)["access_token"])
        except (KeyError, TypeError) as exc:
            raise PanelUnavailable(f"login: not a Marzban token answer: {exc!r}") from exc
        if self._version is None:
            # Once per client (and per probe), before anything is written: a panel of
            # another version would read our requests in its own way.
            try:
                system = await self._http.get(
                    "/api/system", headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                raise PanelUnavailable(f"system: {exc!r}") from exc
            if system.status_code != 200:
                raise PanelUnavailable(f"system: HTTP {system.status_code}")
            try:
                version = str(self._json(system)["version"])
            except (KeyError, TypeError) as exc:
                raise PanelUnavailable(f"system: no version: {exc!r}") from exc
            self._check_version(version)
        self._token = token

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise PanelUnavailable(f"HTTP {response.status_code} with a non-JSON body") from exc

    @staticmethod
    def _detail(response: httpx.Response) -> object:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200]
        return body.get("detail", body) if isinstance(body, dict) else body

    async def aclose(self) -> None:
        await self._http.aclose()
