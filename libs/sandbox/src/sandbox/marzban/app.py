"""The HTTP face of the emulator: Marzban's REST routes plus the ``/sandbox`` control API.

Routes take their dependencies in the same shape as the panel's (auth, then the user lookup,
then the body), because FastAPI runs dependencies before it reports body and query errors and
that order decides which error a client sees.
"""

# No `from __future__ import annotations` here: FastAPI has to evaluate the dependency
# aliases defined inside the router factories, which string annotations would hide from it.
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, ValidationError, field_validator

from sandbox.marzban import formats, responses
from sandbox.marzban.emulator import MarzbanEmulator
from sandbox.marzban.errors import InvalidRequest, PanelCrash, PanelError
from sandbox.marzban.formats import ConfigFormat
from sandbox.marzban.panel_routes import authenticators, panel_routes
from sandbox.marzban.records import Caller, UserRecord
from sandbox.marzban.schemas import AdminCreate, TokenForm, UserStatus
from sandbox.outage import OutageMiddleware, OutageMode, OutageSwitch

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/sandbox"
SUB_SUPPORT_URL = "https://t.me/"
SUB_PROFILE_TITLE = "base64:U3Vic2NyaXB0aW9u"  # "Subscription"
SUB_UPDATE_INTERVAL = "12"
CLIENT_TYPE_PATTERN = "sing-box|clash-meta|clash|outline|v2ray|v2ray-json"
MEDIA_TYPES: dict[str, str] = {
    "clash-meta": "text/yaml",
    "clash": "text/yaml",
    "sing-box": "application/json",
    "outline": "application/json",
    "v2ray": "text/plain",
    "v2ray-json": "application/json",
}
CLIENT_TYPES: dict[str, ConfigFormat] = {
    "sing-box": "sing-box",
    "clash-meta": "clash-meta",
    "clash": "clash",
    "outline": "outline",
    "v2ray": "v2ray",
    "v2ray-json": "v2ray-json",
}


def validation_detail(errors: list[Any]) -> dict[str, str]:
    """Marzban's 422 handler: one message per field, keyed by the last ``loc`` element."""
    detail: dict[str, str] = {}
    for error in errors:
        detail[str(error["loc"][-1])] = error.get("msg", "")
    return detail


def _json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code)


def _install_error_handlers(app: FastAPI) -> None:
    async def invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError | InvalidRequest)
        errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else exc.errors
        return _json({"detail": validation_detail(errors)}, 422)

    async def panel_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, PanelError)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    async def crash(request: Request, exc: Exception) -> Response:
        log.warning("marzban sandbox: %s %s answers 500: %s", request.method, request.url, exc)
        return PlainTextResponse("Internal Server Error", status_code=500)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(InvalidRequest, invalid)
    app.add_exception_handler(PanelError, panel_error)
    app.add_exception_handler(PanelCrash, crash)


async def _form_fields(request: Request) -> dict[str, str]:
    # python-multipart is not installed, so urlencoded forms are parsed here; like FastAPI,
    # an empty value counts as a missing field and any other body as no fields at all.
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    pairs = parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True)
    return {key: value for key, value in pairs if value != ""}


def _panel_router(emulator: MarzbanEmulator) -> APIRouter:
    router = APIRouter()
    current_admin, sudo_admin = authenticators(emulator)
    CurrentAdmin = Annotated[Caller, Depends(current_admin)]
    SudoAdmin = Annotated[Caller, Depends(sudo_admin)]

    async def validated_user(username: str, caller: CurrentAdmin) -> UserRecord:
        return emulator.user(caller, username)

    ValidatedUser = Annotated[UserRecord, Depends(validated_user)]
    JsonBody = Annotated[Any, Body()]

    @router.get("/", response_class=HTMLResponse)
    async def base() -> str:
        return "<!DOCTYPE html><html><head><title>Marzban</title></head><body></body></html>"

    @router.post("/api/admin/token")
    async def admin_token(request: Request) -> Response:
        try:
            form = TokenForm.model_validate(await _form_fields(request))
        except ValidationError as exc:
            raise InvalidRequest.in_body(exc) from exc
        token = emulator.issue_token(form.username, form.password)
        return _json({"access_token": token, "token_type": "bearer"})

    @router.get("/api/admin")
    async def get_current_admin(caller: CurrentAdmin) -> Response:
        return _json(responses.current_admin(caller))

    @router.post("/api/admin")
    async def create_admin(payload: JsonBody, caller: SudoAdmin) -> Response:
        try:
            new_admin = AdminCreate.model_validate(payload)
        except ValidationError as exc:
            raise InvalidRequest.in_body(exc) from exc
        account = emulator.add_admin(
            new_admin.username, new_admin.password, is_sudo=new_admin.is_sudo
        )
        account.telegram_id = new_admin.telegram_id or None
        account.discord_webhook = new_admin.discord_webhook or None
        return _json(responses.current_admin(Caller(account.username, account.is_sudo, account)))

    @router.post("/api/user")
    async def add_user(payload: JsonBody, caller: CurrentAdmin) -> Response:
        user = emulator.create_user(caller, emulator.parse_user_create(payload))
        return _json(responses.user(emulator, user))

    @router.get("/api/user/{username}")
    async def get_user(user: ValidatedUser) -> Response:
        return _json(responses.user(emulator, user))

    @router.put("/api/user/{username}")
    async def modify_user(payload: JsonBody, user: ValidatedUser, caller: CurrentAdmin) -> Response:
        user = emulator.modify_user(caller, user.username, emulator.parse_user_modify(payload))
        return _json(responses.user(emulator, user))

    @router.delete("/api/user/{username}")
    async def remove_user(user: ValidatedUser, caller: CurrentAdmin) -> Response:
        emulator.delete_user(caller, user.username)
        return _json({"detail": "User successfully deleted"})

    @router.post("/api/user/{username}/reset")
    async def reset_user_data_usage(user: ValidatedUser, caller: CurrentAdmin) -> Response:
        return _json(responses.user(emulator, emulator.reset_usage(caller, user.username)))

    @router.post("/api/user/{username}/revoke_sub")
    async def revoke_user_subscription(user: ValidatedUser, caller: CurrentAdmin) -> Response:
        return _json(responses.user(emulator, emulator.revoke_subscription(caller, user.username)))

    @router.post("/api/user/{username}/active-next")
    async def active_next_plan(user: ValidatedUser, caller: CurrentAdmin) -> Response:
        return _json(responses.user(emulator, emulator.activate_next_plan(caller, user.username)))

    @router.get("/api/user/{username}/usage")
    async def get_user_usage(
        user: ValidatedUser, caller: CurrentAdmin, start: str = "", end: str = ""
    ) -> Response:
        return _json({"usages": emulator.user_usage(user, start, end), "username": user.username})

    @router.put("/api/user/{username}/set-owner")
    async def set_owner(admin_username: str, user: ValidatedUser, caller: SudoAdmin) -> Response:
        return _json(
            responses.user(emulator, emulator.set_owner(caller, user.username, admin_username))
        )

    @router.get("/api/users")
    async def get_users(
        caller: CurrentAdmin,
        offset: int | None = None,
        limit: int | None = None,
        username: Annotated[list[str] | None, Query()] = None,
        search: str | None = None,
        owners: Annotated[list[str] | None, Query(alias="admin")] = None,
        status: UserStatus | None = None,
        sort: str | None = None,
    ) -> Response:
        users, total = emulator.list_users(
            caller,
            offset=offset,
            limit=limit,
            usernames=username,
            search=search,
            status=status,
            owners=owners,
            sort=sort,
        )
        return _json({"users": [responses.user(emulator, u) for u in users], "total": total})

    @router.post("/api/users/reset")
    async def reset_users_data_usage(caller: SudoAdmin) -> Response:
        emulator.reset_all_usage(caller)
        return _json({"detail": "Users successfully reset."})

    @router.get("/api/users/usage")
    async def get_users_usage(
        caller: CurrentAdmin,
        start: str = "",
        end: str = "",
        owners: Annotated[list[str] | None, Query(alias="admin")] = None,
    ) -> Response:
        return _json({"usages": emulator.users_usage(caller, start, end, owners)})

    @router.get("/api/users/expired")
    async def get_expired_users(
        caller: CurrentAdmin,
        expired_after: datetime | None = None,
        expired_before: datetime | None = None,
    ) -> Response:
        users = emulator.expired_users(caller, expired_after, expired_before)
        return _json([user.username for user in users])

    @router.delete("/api/users/expired")
    async def delete_expired_users(
        caller: CurrentAdmin,
        expired_after: datetime | None = None,
        expired_before: datetime | None = None,
    ) -> Response:
        return _json(emulator.delete_expired_users(caller, expired_after, expired_before))

    @router.get("/api/inbounds")
    async def get_inbounds(caller: CurrentAdmin) -> Response:
        return _json(responses.inbounds(emulator.core))

    @router.get("/api/system")
    async def get_system_stats(caller: CurrentAdmin) -> Response:
        return _json(emulator.system_stats(caller))

    @router.get("/api/core")
    async def get_core_stats(caller: CurrentAdmin) -> Response:
        return _json(responses.core_stats(emulator.core))

    async def validated_sub(token: str) -> UserRecord:
        return emulator.subscription_user(token)

    SubscribedUser = Annotated[UserRecord, Depends(validated_sub)]

    def subscription_headers(request: Request, user: UserRecord) -> dict[str, str]:
        info = {
            "upload": 0,
            "download": user.used_traffic,
            "total": user.data_limit if user.data_limit is not None else 0,
            "expire": user.expire if user.expire is not None else 0,
        }
        return {
            "content-disposition": f'attachment; filename="{user.username}"',
            "profile-web-page-url": str(request.url),
            "support-url": SUB_SUPPORT_URL,
            "profile-title": SUB_PROFILE_TITLE,
            "profile-update-interval": SUB_UPDATE_INTERVAL,
            "subscription-userinfo": "; ".join(f"{k}={v}" for k, v in info.items()),
        }

    def subscription_body(
        user: UserRecord,
        config_format: ConfigFormat,
        headers: dict[str, str],
        *,
        reverse: bool = False,
    ) -> Response:
        content = formats.document(
            config_format,
            hosted=emulator.hosted_inbounds(user),
            rng=emulator.rng,
            reverse=reverse,
        )
        return Response(content=content, media_type=MEDIA_TYPES[config_format], headers=headers)

    @router.get("/sub/{token}/")
    @router.get("/sub/{token}", include_in_schema=False)
    async def user_subscription(
        request: Request, user: SubscribedUser, user_agent: Annotated[str, Header()] = ""
    ) -> Response:
        if "text/html" in request.headers.get("Accept", ""):
            return HTMLResponse(_subscription_page(emulator, user))
        emulator.record_subscription_fetch(user, user_agent)
        config_format, reverse = formats.choose_format(user_agent, emulator.custom_json)
        headers = subscription_headers(request, user)
        return subscription_body(user, config_format, headers, reverse=reverse)

    @router.get("/sub/{token}/info")
    async def user_subscription_info(user: SubscribedUser) -> Response:
        return _json(responses.subscription_user(emulator, user))

    @router.get("/sub/{token}/usage")
    async def user_get_usage(user: SubscribedUser, start: str = "", end: str = "") -> Response:
        return _json({"usages": emulator.user_usage(user, start, end), "username": user.username})

    @router.get("/sub/{token}/{client_type}")
    async def user_subscription_with_client_type(
        request: Request,
        user: SubscribedUser,
        client_type: Annotated[str, Path(pattern=CLIENT_TYPE_PATTERN)],
    ) -> Response:
        config_format = CLIENT_TYPES.get(client_type)
        if config_format is None:
            # The pattern is searched, not anchored: "xv2rayx" passes it and then has no config.
            raise PanelCrash(f"no subscription config for client type {client_type!r}")
        # client_config serves v2ray-json here whatever the USE_CUSTOM_JSON_* switches say.
        return subscription_body(user, config_format, subscription_headers(request, user))

    return router


def _subscription_page(emulator: MarzbanEmulator, user: UserRecord) -> str:
    links = "".join(f"<li><code>{escape(link)}</code></li>" for link in emulator.links(user))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(user.username)}</title></head><body>"
        f"<h1>{escape(user.username)}</h1><p>status: {user.status.value}</p>"
        f"<p>used: {user.used_traffic} / {user.data_limit or '∞'}</p><ul>{links}</ul>"
        "</body></html>"
    )


class TrafficRequest(BaseModel):
    bytes: int = Field(ge=0)
    node_id: int | None = None  # the node that reports it; None: the master core


class NodeHealthRequest(BaseModel):
    reachable: bool
    message: str | None = None  # what the connection error says; default: connection refused
    xray_version: str | None = None


class NodeUsageRequest(BaseModel):
    node_id: int | None = None
    uplink: int = Field(0, ge=0)
    downlink: int = Field(0, ge=0)


class OutageRequest(BaseModel):
    mode: OutageMode = "error"
    status: int = Field(502, ge=500, le=599)
    delay_s: float | None = Field(None, ge=0)


class AdminRequest(BaseModel):
    username: str
    password: str
    is_sudo: bool = False


class PasswordRequest(BaseModel):
    password: str

    @field_validator("password")
    @classmethod
    def not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("password cannot be empty")
        return value


def _control_router(emulator: MarzbanEmulator, switch: OutageSwitch) -> APIRouter:
    router = APIRouter(prefix=CONTROL_PREFIX)

    def outage_state() -> dict[str, Any]:
        current = switch.current
        return {"active": current is not None, **(current.as_dict() if current else {})}

    @router.get("/state")
    async def state() -> Response:
        return _json({**responses.snapshot(emulator), "outage": outage_state()})

    @router.post("/reset")
    async def reset() -> Response:
        emulator.clear()
        switch.end()
        return _json({**responses.snapshot(emulator), "outage": outage_state()})

    @router.get("/users")
    async def users() -> Response:
        return _json([responses.raw_user(emulator, user) for user in emulator.users.values()])

    @router.get("/users/{username}")
    async def user(username: str) -> Response:
        record = emulator.users.get(username)
        if record is None:
            return _json({"detail": "User not found"}, 404)
        return _json(responses.raw_user(emulator, record))

    @router.post("/users/{username}/traffic")
    async def add_traffic(username: str, body: TrafficRequest) -> Response:
        user = emulator.add_traffic(username, body.bytes, node_id=body.node_id)
        return _json(responses.raw_user(emulator, user))

    @router.get("/nodes")
    async def nodes() -> Response:
        return _json([node.raw() for node in emulator.nodes.all()])

    @router.put("/nodes/{node_id}/health")
    async def node_health(node_id: int, body: NodeHealthRequest) -> Response:
        node = emulator.nodes.set_health(
            node_id,
            reachable=body.reachable,
            message=body.message,
            xray_version=body.xray_version,
        )
        return _json(node.raw())

    @router.post("/nodes/usage")
    async def node_usage(body: NodeUsageRequest) -> Response:
        emulator.add_node_usage(body.node_id, body.uplink, body.downlink)
        return _json({"usages": emulator.nodes_usage("", "")})

    @router.post("/health-check")
    async def health_check() -> Response:
        emulator.nodes.health_check()
        return _json([node.raw() for node in emulator.nodes.all()])

    @router.post("/review")
    async def review() -> Response:
        changes = emulator.review()
        return _json(
            {
                "changes": [
                    {
                        "username": c.username,
                        "from": c.old.value,
                        "to": c.new.value,
                        "next_plan_applied": c.next_plan_applied,
                    }
                    for c in changes
                ]
            }
        )

    @router.post("/reset-data-usage")
    async def reset_data_usage() -> Response:
        return _json({"reset": emulator.reset_data_usage()})

    @router.get("/outage")
    async def get_outage() -> Response:
        return _json(outage_state())

    @router.put("/outage")
    async def start_outage(body: OutageRequest) -> Response:
        switch.start(body.mode, status=body.status, delay_s=body.delay_s)
        return _json(outage_state())

    @router.delete("/outage")
    async def end_outage() -> Response:
        switch.end()
        return _json(outage_state())

    @router.post("/admins")
    async def add_admin(body: AdminRequest) -> Response:
        account = emulator.add_admin(body.username, body.password, is_sudo=body.is_sudo)
        return _json(responses.current_admin(Caller(account.username, account.is_sudo, account)))

    @router.put("/admins/{username}/password")
    async def set_password(username: str, body: PasswordRequest) -> Response:
        emulator.set_admin_password(username, body.password)
        return _json({"detail": "Password changed"})

    return router


async def _review_every(emulator: MarzbanEmulator, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            emulator.review()
            # Hourly upstream; its condition counts days, so running it more often is the same.
            emulator.reset_data_usage()
            emulator.nodes.health_check()  # core_health_check, every 10 s upstream too
        except Exception:
            log.exception("marzban sandbox: review job failed")


def create_app(
    emulator: MarzbanEmulator | None = None,
    *,
    outage: OutageSwitch | None = None,
    review_interval_s: float | None = 10.0,
) -> FastAPI:
    """The panel's ASGI app. ``review_interval_s=None`` leaves the review job to the tests."""
    panel = emulator or MarzbanEmulator()
    switch = outage or OutageSwitch()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        job = (
            asyncio.create_task(_review_every(panel, review_interval_s))
            if review_interval_s
            else None
        )
        try:
            yield
        finally:
            switch.end()
            if job is not None:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job

    app = FastAPI(
        title="MarzbanAPI",
        version="0.8.4",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.emulator = panel
    app.state.outage = switch
    _install_error_handlers(app)
    app.include_router(_panel_router(panel))
    app.include_router(panel_routes(panel))
    app.include_router(_control_router(panel, switch))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(OutageMiddleware, switch=switch, exempt_prefix=f"{CONTROL_PREFIX}/")
    return app
