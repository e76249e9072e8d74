"""The panel's admin, node, host and user-template routes (``app/routers/{admin,node,system,
user_template}.py``).

As in ``app.py``, each route takes its dependencies in the panel's order, because FastAPI
resolves them one after the other before it looks at the body: ``/api/node/{id}`` and
``/api/admin/{username}`` look the entity up before they authenticate (a missing node is a
404 even without a token), the template PUT and DELETE authenticate first.
"""

# No `from __future__ import annotations`: FastAPI evaluates the dependency aliases below.
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from sandbox.marzban import responses
from sandbox.marzban.emulator import MarzbanEmulator
from sandbox.marzban.errors import InvalidRequest, Unauthorized
from sandbox.marzban.hosts import ProxyHost
from sandbox.marzban.hosts import render as render_hosts
from sandbox.marzban.nodes import NodeCreate, NodeModify, NodeRecord
from sandbox.marzban.records import AdminAccount, Caller
from sandbox.marzban.schemas import AdminModify
from sandbox.marzban.user_templates import UserTemplateBody, UserTemplateRecord

HOSTS_BODY: TypeAdapter[dict[str, list[ProxyHost]]] = TypeAdapter(dict[str, list[ProxyHost]])
JsonBody = Annotated[Any, Body()]
Model = TypeVar("Model", bound=BaseModel)


def _json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code)


def parse(model: type[Model], payload: Any) -> Model:
    """Validate a JSON body as FastAPI does for a body parameter of type ``model``."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidRequest.in_body(exc) from exc


def authenticators(
    emulator: MarzbanEmulator,
) -> tuple[Callable[[Request], Awaitable[Caller]], Callable[[Caller], Awaitable[Caller]]]:
    """``Admin.get_current`` and ``Admin.check_sudo_admin``."""

    async def current_admin(request: Request) -> Caller:
        authorization = request.headers.get("Authorization")
        scheme, _, token = (authorization or "").partition(" ")
        if not authorization or scheme.lower() != "bearer":
            raise Unauthorized("Not authenticated")
        return emulator.authenticate(token)

    async def sudo_admin(caller: Annotated[Caller, Depends(current_admin)]) -> Caller:
        emulator.require_sudo(caller)
        return caller

    return current_admin, sudo_admin


def panel_routes(emulator: MarzbanEmulator) -> APIRouter:
    router = APIRouter()
    current_admin, sudo_admin = authenticators(emulator)
    CurrentAdmin = Annotated[Caller, Depends(current_admin)]
    SudoAdmin = Annotated[Caller, Depends(sudo_admin)]

    async def admin_by_username(username: str) -> AdminAccount:
        return emulator.admin(username)

    async def node_by_id(node_id: int) -> NodeRecord:
        return emulator.nodes.get(node_id)

    async def template_by_id(template_id: int) -> UserTemplateRecord:
        return emulator.templates.get(template_id)

    NamedAdmin = Annotated[AdminAccount, Depends(admin_by_username)]
    ValidatedNode = Annotated[NodeRecord, Depends(node_by_id)]
    ValidatedTemplate = Annotated[UserTemplateRecord, Depends(template_by_id)]

    # -- admins --------------------------------------------------------------------------

    @router.put("/api/admin/{username}")
    async def modify_admin(account: NamedAdmin, caller: SudoAdmin, payload: JsonBody) -> Response:
        emulator.modify_admin(caller, account, parse(AdminModify, payload))
        return _json(responses.admin(account))

    @router.delete("/api/admin/{username}")
    async def remove_admin(account: NamedAdmin, caller: SudoAdmin) -> Response:
        emulator.remove_admin(account)
        return _json({"detail": "Admin removed successfully"})

    @router.get("/api/admins")
    async def get_admins(
        caller: SudoAdmin,
        offset: int | None = None,
        limit: int | None = None,
        username: str | None = None,
    ) -> Response:
        admins = emulator.list_admins(offset, limit, username)
        return _json([responses.admin(account) for account in admins])

    @router.post("/api/admin/{username}/users/disable")
    async def disable_all_active_users(account: NamedAdmin, caller: SudoAdmin) -> Response:
        emulator.disable_admin_users(account)
        return _json({"detail": "Users successfully disabled"})

    @router.post("/api/admin/{username}/users/activate")
    async def activate_all_disabled_users(account: NamedAdmin, caller: SudoAdmin) -> Response:
        emulator.activate_admin_users(account)
        return _json({"detail": "Users successfully activated"})

    @router.post("/api/admin/usage/reset/{username}")
    async def reset_admin_usage(account: NamedAdmin, caller: SudoAdmin) -> Response:
        return _json(responses.admin(emulator.reset_admin_usage(account)))

    @router.get("/api/admin/usage/{username}")
    async def get_admin_usage(account: NamedAdmin, caller: SudoAdmin) -> Response:
        return _json(account.users_usage)

    # -- nodes ---------------------------------------------------------------------------

    @router.get("/api/node/settings")
    async def get_node_settings(caller: SudoAdmin) -> Response:
        return _json(emulator.nodes.settings())

    @router.post("/api/node")
    async def add_node(caller: SudoAdmin, payload: JsonBody) -> Response:
        return _json(emulator.add_node(parse(NodeCreate, payload)).as_dict())

    @router.get("/api/node/{node_id}")
    async def get_node(node: ValidatedNode, caller: SudoAdmin) -> Response:
        return _json(node.as_dict())

    @router.get("/api/nodes")
    async def get_nodes(caller: SudoAdmin) -> Response:
        return _json([node.as_dict() for node in emulator.nodes.all()])

    @router.put("/api/node/{node_id}")
    async def modify_node(node: ValidatedNode, caller: SudoAdmin, payload: JsonBody) -> Response:
        return _json(emulator.modify_node(node, parse(NodeModify, payload)).as_dict())

    @router.post("/api/node/{node_id}/reconnect")
    async def reconnect_node(node: ValidatedNode, caller: SudoAdmin) -> Response:
        emulator.nodes.reconnect(node)
        return _json({"detail": "Reconnection task scheduled"})

    @router.delete("/api/node/{node_id}")
    async def remove_node(node: ValidatedNode, caller: SudoAdmin) -> Response:
        emulator.remove_node(node)
        return _json({})

    @router.get("/api/nodes/usage")
    async def get_usage(caller: SudoAdmin, start: str = "", end: str = "") -> Response:
        return _json({"usages": emulator.nodes_usage(start, end)})

    # -- hosts ---------------------------------------------------------------------------

    def hosts() -> dict[str, list[dict[str, Any]]]:
        return render_hosts(emulator.hosts, (inbound.tag for inbound in emulator.core.inbounds))

    @router.get("/api/hosts")
    async def get_hosts(caller: SudoAdmin) -> Response:
        return _json(hosts())

    @router.put("/api/hosts")
    async def modify_hosts(caller: SudoAdmin, payload: JsonBody) -> Response:
        try:
            modified = HOSTS_BODY.validate_python(payload)
        except ValidationError as exc:
            raise InvalidRequest.in_body(exc) from exc
        emulator.modify_hosts(modified)
        return _json(hosts())

    # -- user templates -------------------------------------------------------------------

    def template(record: UserTemplateRecord) -> dict[str, Any]:
        return record.as_dict(emulator.core)

    @router.post("/api/user_template")
    async def add_user_template(caller: SudoAdmin, payload: JsonBody) -> Response:
        body = parse(UserTemplateBody, payload)
        return _json(template(emulator.templates.create(body, emulator.core)))

    @router.get("/api/user_template")
    async def get_user_templates(
        caller: CurrentAdmin, offset: int | None = None, limit: int | None = None
    ) -> Response:
        return _json([template(t) for t in emulator.templates.list(offset, limit)])

    @router.get("/api/user_template/{template_id}")
    async def get_user_template_endpoint(
        record: ValidatedTemplate, caller: CurrentAdmin
    ) -> Response:
        return _json(template(record))

    @router.put("/api/user_template/{template_id}")
    async def modify_user_template(
        caller: SudoAdmin, record: ValidatedTemplate, payload: JsonBody
    ) -> Response:
        body = parse(UserTemplateBody, payload)
        return _json(template(emulator.templates.modify(record, body, emulator.core)))

    @router.delete("/api/user_template/{template_id}")
    async def remove_user_template(caller: SudoAdmin, record: ValidatedTemplate) -> Response:
        emulator.templates.remove(record)
        return _json(None)  # crud.remove_user_template returns nothing

    return router
