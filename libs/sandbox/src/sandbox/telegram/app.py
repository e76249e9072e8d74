"""The emulator over HTTP: the Bot API at ``/bot<token>/<method>`` and the control API under
``/sandbox/``. Webhook delivery runs in the background for the life of the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive

from sandbox.nginx import error_page
from sandbox.telegram.botapi import MethodResult, call_method
from sandbox.telegram.control_api import control_routes
from sandbox.telegram.emulator import TelegramEmulator
from sandbox.telegram.errors import BotApiError, internal_error, not_found, too_many_requests
from sandbox.telegram.media import MAX_PHOTO_BYTES
from sandbox.telegram.outage import Outage
from sandbox.telegram.webhook import WebhookSender
from sandbox.telegram.wire import error_body, ok_body, parse_params

log = logging.getLogger(__name__)

T = TypeVar("T")

_ALL_VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_FETCH_TIMEOUT = httpx.Timeout(10.0)
# Long polls are the one call worth abandoning when the client goes away.
_ABANDONABLE_METHODS = frozenset({"getupdates"})


class _Outbound:
    """The app's HTTP client (webhooks, photo URLs), open while the app runs."""

    def __init__(self) -> None:
        self.client: httpx.AsyncClient | None = None

    async def fetch(self, url: str) -> bytes:
        if self.client is None:
            async with httpx.AsyncClient(trust_env=False) as client:
                return await _download(client, url)
        return await _download(self.client, url)


async def _download(client: httpx.AsyncClient, url: str) -> bytes:
    async with client.stream("GET", url, timeout=_FETCH_TIMEOUT, follow_redirects=True) as reply:
        reply.raise_for_status()
        body = b""
        async for chunk in reply.aiter_bytes():
            body += chunk
            if len(body) > MAX_PHOTO_BYTES:
                break
        return body


def create_app(emulator: TelegramEmulator | None = None) -> Starlette:
    emulator = emulator if emulator is not None else TelegramEmulator()
    outbound = _Outbound()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(trust_env=False) as client:
            outbound.client = client
            sender = WebhookSender(emulator, client, outbound.fetch)
            task = asyncio.create_task(sender.run(), name="telegram-webhooks")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                outbound.client = None

    async def bot_api(request: Request) -> Response:
        try:
            result = await _bot_api_call(emulator, outbound, request)
        except BotApiError as error:
            return _error_response(error)
        except _Unavailable as down:
            page, content_type = error_page(down.status)
            return Response(page, status_code=down.status, media_type=content_type.decode())
        except Exception:
            log.exception("telegram sandbox failed on %s", request.url.path)
            return _error_response(internal_error("unexpected failure in the emulator"))
        if result is None:
            return Response(status_code=204)  # the client has gone; nobody reads this
        return _json_response(200, ok_body(result.result_json, result.description))

    app = Starlette(
        routes=[
            *control_routes(emulator),
            Route("/{path:path}", bot_api, methods=_ALL_VERBS),
        ],
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    return app


async def _bot_api_call(
    emulator: TelegramEmulator, outbound: _Outbound, request: Request
) -> MethodResult | None:
    token, method = _split_bot_path(request.url.path)
    outage: Outage | None = emulator.outage
    if outage is not None and (method == "" or outage.applies_to(method)):
        if outage.mode == "flood":
            raise too_many_requests(outage.retry_after)
        raise _Unavailable(outage.status)
    params = parse_params(
        request.url.query,
        request.headers.get("content-type", ""),
        request.headers.get("content-encoding", ""),
        await request.body(),
    )
    if method == "":
        method = params.text("method")
    bot = emulator.bot_for_token(token)
    call = call_method(emulator, bot, method, params, outbound.fetch)
    if method.lower() in _ABANDONABLE_METHODS:
        return await _unless_disconnected(request.receive, call)
    return await call


class _Unavailable(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _split_bot_path(path: str) -> tuple[str, str]:
    if not path.startswith("/bot"):
        raise not_found()
    token, slash, method = path.removeprefix("/bot").partition("/")
    if not slash:
        raise not_found()
    return token, method


async def _unless_disconnected(receive: Receive, work: Awaitable[T]) -> T | None:
    """Runs ``work`` unless the client disconnects first (then it is cancelled)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.create_task(_disconnected(receive))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _json_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body.encode(), status_code=status, media_type="application/json", headers=headers
    )


def _error_response(error: BotApiError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return _json_response(error.error_code, error_body(error), headers)
