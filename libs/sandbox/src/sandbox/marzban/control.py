"""Client of the emulator's ``/sandbox`` control API, for e2e tests, the demo and benchmarks."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

from sandbox.control import ControlClient, SandboxControlError


class RawNextPlan(TypedDict):
    data_limit: int | None
    expire: int | None
    add_remaining_traffic: bool
    fire_on_either: bool


class RawUser(TypedDict):
    """Everything the emulator stores about a user (times are naive UTC ISO strings)."""

    id: int
    username: str
    status: str
    owner: str | None
    proxies: dict[str, dict[str, str]]
    inbounds: dict[str, list[str]]
    excluded_inbounds: dict[str, list[str]]
    data_limit: int | None
    expire: int | None
    data_limit_reset_strategy: str
    note: str | None
    on_hold_expire_duration: int | None
    on_hold_timeout: str | None
    auto_delete_in_days: int | None
    next_plan: RawNextPlan | None
    used_traffic: int
    lifetime_used_traffic: int
    created_at: str
    edit_at: str | None
    online_at: str | None
    sub_revoked_at: str | None
    sub_updated_at: str | None
    sub_last_user_agent: str | None
    last_status_change: str | None


StatusChange = TypedDict(
    "StatusChange", {"username": str, "from": str, "to": str, "next_plan_applied": bool}
)


class OutageState(TypedDict, total=False):
    active: bool
    mode: Literal["error", "timeout"]
    status: int
    delay_s: float | None
    started_at: float


class RawNode(TypedDict):
    """A node as the panel shows it, plus the simulated node process behind it."""

    name: str
    address: str
    port: int
    api_port: int
    usage_coefficient: float
    id: int
    xray_version: str | None
    status: str
    message: str | None
    reachable: bool
    failure: str
    node_xray_version: str
    connect_due: float | None


class MarzbanSandboxControl(ControlClient):
    """``async with MarzbanSandboxControl(server.url) as control: await control.outage()``"""

    async def _call(self, method: str, path: str, json: Any = None) -> Any:  # type: ignore[override]
        # Any 2xx is an answer here, and the body goes as ``json`` (the callers' keyword).
        response = await self._http.request(method, path, json=json)
        if response.is_error:
            raise SandboxControlError(response.status_code, response.text)
        return response.json()

    async def outage(
        self,
        mode: Literal["error", "timeout"] = "error",
        *,
        status: int = 502,
        delay_s: float | None = None,
    ) -> OutageState:
        """Make the panel API fail: ``error`` answers ``status``; ``timeout`` hangs requests
        for ``delay_s`` seconds (None: until :meth:`restore`)."""
        body = {"mode": mode, "status": status, "delay_s": delay_s}
        return cast(OutageState, await self._call("PUT", "/outage", body))

    async def restore(self) -> None:
        await self._call("DELETE", "/outage")

    async def outage_state(self) -> OutageState:
        return cast(OutageState, await self._call("GET", "/outage"))

    async def users(self) -> list[RawUser]:
        return cast(list[RawUser], await self._call("GET", "/users"))

    async def user(self, username: str) -> RawUser | None:
        response = await self._http.get(f"/users/{username}")
        if response.status_code == 404:
            return None
        if response.is_error:
            raise SandboxControlError(response.status_code, response.text)
        return cast(RawUser, response.json())

    async def add_traffic(
        self, username: str, bytes: int, *, node_id: int | None = None
    ) -> RawUser:
        """Report ``bytes`` of traffic for a user, as the core's (or node ``node_id``'s) stats
        would; a node's usage coefficient applies, and the node must be connected."""
        body = {"bytes": bytes, "node_id": node_id}
        return cast(RawUser, await self._call("POST", f"/users/{username}/traffic", body))

    async def nodes(self) -> list[RawNode]:
        return cast(list[RawNode], await self._call("GET", "/nodes"))

    async def set_node_health(
        self,
        node_id: int,
        *,
        reachable: bool,
        message: str | None = None,
        xray_version: str | None = None,
    ) -> RawNode:
        """Take a node down (it turns ``error`` with ``message``, by default
        "[Errno 111] Connection refused") or bring it back (it reconnects)."""
        body = {"reachable": reachable, "message": message, "xray_version": xray_version}
        return cast(RawNode, await self._call("PUT", f"/nodes/{node_id}/health", body))

    async def add_node_usage(
        self, node_id: int | None, *, uplink: int = 0, downlink: int = 0
    ) -> list[dict[str, Any]]:
        """Outbound traffic of a node (None: the master) that no user is charged for;
        answers what ``/api/nodes/usage`` now shows for the last 30 days."""
        body = {"node_id": node_id, "uplink": uplink, "downlink": downlink}
        result = await self._call("POST", "/nodes/usage", body)
        return cast(list[dict[str, Any]], result["usages"])

    async def run_health_check(self) -> list[RawNode]:
        """Run the panel's ``core_health_check`` once for the nodes."""
        return cast(list[RawNode], await self._call("POST", "/health-check"))

    async def run_review(self) -> list[StatusChange]:
        """Run the panel's review job once (limits, expiry, on_hold, next plans)."""
        result = await self._call("POST", "/review")
        return cast(list[StatusChange], result["changes"])

    async def run_reset_data_usage(self) -> list[str]:
        """Run the panel's ``reset_user_data_usage`` job once; the users it reset."""
        result = await self._call("POST", "/reset-data-usage")
        return cast(list[str], result["reset"])

    async def reset(self) -> None:
        """Drop every user and end any outage; admins go back to the initial ones."""
        await self._call("POST", "/reset")

    async def state(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self._call("GET", "/state"))

    async def add_admin(self, username: str, password: str, *, is_sudo: bool = False) -> None:
        await self._call(
            "POST", "/admins", {"username": username, "password": password, "is_sudo": is_sudo}
        )

    async def set_admin_password(self, username: str, password: str) -> None:
        await self._call("PUT", f"/admins/{username}/password", {"password": password})
