"""The emulator over HTTP: Crypto Pay's ``/api/<method>``, the test controls under ``/sandbox``."""

from __future__ import annotations

import base64
import binascii
import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.cryptopay.emulator import CryptoPayEmulator
from sandbox.cryptopay.errors import ApiError, ControlError, method_not_found
from sandbox.cryptopay.model import JsonObject
from sandbox.cryptopay.notifications import WebhookDispatcher
from sandbox.cryptopay.params import read_params
from sandbox.cryptopay.signature import SignatureMode, forged_signature
from sandbox.outage import OutageMiddleware, OutageSwitch

API_PREFIX = "/api/"
CONTROL_PREFIX = "/sandbox"
TOKEN_HEADER = "crypto-pay-api-token"  # noqa: S105 - a header name, not a secret


def _api_error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.code)


class _CryptoPayApi:
    """``/api/<method>``: GET or POST, the token in ``Crypto-Pay-API-Token``."""

    def __init__(self, emulator: CryptoPayEmulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [Route(API_PREFIX + "{method}", self.call, methods=["GET", "POST"])]

    async def call(self, request: Request) -> Response:
        try:
            params = await read_params(request)
            result = self.emulator.call(
                request.path_params["method"], request.headers.get(TOKEN_HEADER), params
            )
        except ApiError as error:
            return _api_error(error)
        return JSONResponse({"ok": True, "result": result})


def _json_body(raw: bytes) -> object:
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise ControlError(400, "the request body is not valid JSON") from None


def _option(body: object, name: str, kinds: tuple[type, ...], default: Any) -> Any:
    """An optional field of a control request; JSON's true is not an integer here."""
    if body is None:
        return default
    if not isinstance(body, dict):
        raise ControlError(400, "the request body must be a JSON object")
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds):
        raise ControlError(400, f"invalid {name}")
    return value


def _forged_content(body: object) -> bytes:
    text = _option(body, "body", (str,), None)
    encoded = _option(body, "body_base64", (str,), None)
    if (text is None) == (encoded is None):
        raise ControlError(400, 'give the bytes to send as "body" (text) or "body_base64"')
    if text is not None:
        return str(text).encode()
    try:
        return base64.b64decode(str(encoded), validate=True)
    except binascii.Error:
        raise ControlError(400, "body_base64 is not base64") from None


class _SandboxControl:
    """``/sandbox``: what tests do in place of the user, Crypto Pay and the app's owner."""

    def __init__(
        self, emulator: CryptoPayEmulator, dispatcher: WebhookDispatcher, switch: OutageSwitch
    ) -> None:
        self.emulator = emulator
        self.dispatcher = dispatcher
        self.switch = switch

    def routes(self) -> list[Route]:
        prefix = CONTROL_PREFIX
        return [
            Route(f"{prefix}/apps", self.list_apps, methods=["GET"]),
            Route(f"{prefix}/apps/{{app_id:int}}", self.app, methods=["PUT", "PATCH"]),
            Route(f"{prefix}/apps/{{app_id:int}}/webhooks", self.forge, methods=["POST"]),
            Route(f"{prefix}/invoices/by-hash/{{invoice_hash}}", self.by_hash, methods=["GET"]),
            Route(f"{prefix}/invoices/{{invoice_id:int}}", self.invoice, methods=["GET"]),
            Route(f"{prefix}/invoices/{{invoice_id:int}}/pay", self.pay, methods=["POST"]),
            Route(f"{prefix}/invoices/{{invoice_id:int}}/expire", self.expire, methods=["POST"]),
            Route(f"{prefix}/invoices/{{invoice_id:int}}/resend", self.resend, methods=["POST"]),
            Route(f"{prefix}/deliveries", self.deliveries, methods=["GET"]),
            Route(f"{prefix}/clock/advance", self.advance_clock, methods=["POST"]),
            Route(f"{prefix}/exchange-rates", self.rates, methods=["GET", "PUT"]),
            Route(f"{prefix}/update-ids", self.update_ids, methods=["GET", "PUT"]),
            Route(f"{prefix}/outage", self.outage, methods=["GET", "PUT", "DELETE"]),
            Route(f"{prefix}/reset", self.reset, methods=["POST"]),
        ]

    async def _handle(self, request: Request, action: Callable[[object], Any]) -> Response:
        try:
            result = action(_json_body(await request.body()))
            if inspect.isawaitable(result):
                result = await result
        except ControlError as error:
            return JSONResponse(error.body(), status_code=error.status)
        return JSONResponse(result)

    async def list_apps(self, request: Request) -> Response:
        return JSONResponse([app.settings() for app in self.emulator.apps()])

    async def app(self, request: Request) -> Response:
        """PUT adds or replaces an app, PATCH changes some of its settings."""
        app_id: int = request.path_params["app_id"]
        change = self.emulator.add_app if request.method == "PUT" else self.emulator.configure_app
        return await self._handle(request, lambda body: change(app_id, body).settings())

    async def forge(self, request: Request) -> Response:
        app_id: int = request.path_params["app_id"]

        async def send(body: object) -> JsonObject:
            app = self.emulator.app(app_id)
            content = _forged_content(body)
            url = _option(body, "url", (str,), None) or app.webhook_url
            if url is None:
                raise ControlError(400, f"app {app_id} has no webhook_url; give a url")
            try:
                mode = SignatureMode(_option(body, "signature", (str,), "valid"))
            except ValueError:
                modes = ", ".join(mode.value for mode in SignatureMode)
                raise ControlError(400, f"signature is one of {modes}") from None
            signed_body = _option(body, "signed_body", (str,), None)
            signature = forged_signature(
                mode,
                content,
                app.token,
                signed_body=None if signed_body is None else str(signed_body).encode(),
                wrong_token=_option(body, "wrong_token", (str,), None),
            )
            attempt = await self.dispatcher.send_once(app_id, url, content, signature)
            return attempt.to_json()

        return await self._handle(request, send)

    async def by_hash(self, request: Request) -> Response:
        invoice_hash: str = request.path_params["invoice_hash"]
        return await self._handle(
            request,
            lambda _: self.emulator.invoice_state(self.emulator.invoice_id_for_hash(invoice_hash)),
        )

    async def invoice(self, request: Request) -> Response:
        invoice_id: int = request.path_params["invoice_id"]
        return await self._handle(request, lambda _: self.emulator.invoice_state(invoice_id))

    async def pay(self, request: Request) -> Response:
        invoice_id: int = request.path_params["invoice_id"]
        return await self._handle(
            request,
            lambda body: self.emulator.pay(
                invoice_id,
                asset=_option(body, "asset", (str,), None),
                comment=_option(body, "comment", (str,), None),
                anonymous=_option(body, "anonymous", (bool,), False),
            ).to_json(),
        )

    async def expire(self, request: Request) -> Response:
        invoice_id: int = request.path_params["invoice_id"]
        return await self._handle(request, lambda _: self.emulator.expire(invoice_id).to_json())

    async def resend(self, request: Request) -> Response:
        invoice_id: int = request.path_params["invoice_id"]
        return await self._handle(
            request,
            lambda body: {
                "update_id": self.emulator.resend(invoice_id, _option(body, "times", (int,), 1))
            },
        )

    async def deliveries(self, request: Request) -> Response:
        def number(name: str) -> int | None:
            value = request.query_params.get(name)
            if value is None:
                return None
            if not value.isdigit():
                raise ControlError(400, f"{name} must be a number")
            return int(value)

        try:
            attempts = self.dispatcher.attempts(
                invoice_id=number("invoice_id"), app_id=number("app_id")
            )
        except ControlError as error:
            return JSONResponse(error.body(), status_code=error.status)
        return JSONResponse([attempt.to_json() for attempt in attempts])

    async def advance_clock(self, request: Request) -> Response:
        def advance(body: object) -> JsonObject:
            seconds = _option(body, "seconds", (int, Decimal), None)
            if seconds is None:
                raise ControlError(400, "seconds is required")
            self.emulator.advance_clock(timedelta(seconds=float(seconds)))
            return {"now": self.emulator.now().isoformat()}

        return await self._handle(request, advance)

    async def rates(self, request: Request) -> Response:
        def change(body: object) -> list[JsonObject]:
            if request.method == "PUT":
                rates = _option(body, "rates", (dict,), None)
                if rates is None or not all(isinstance(t, dict) for t in rates.values()):
                    raise ControlError(
                        400, 'expected {"rates": {"<source>": {"<target>": "<rate>"}}}'
                    )
                self.emulator.set_rates(rates, replace=_option(body, "replace", (bool,), False))
            return [rate.to_json() for rate in self.emulator.rates()]

        return await self._handle(request, change)

    async def update_ids(self, request: Request) -> Response:
        def change(body: object) -> JsonObject:
            if request.method == "PUT":
                self.emulator.set_fixed_update_id(_option(body, "fixed", (int,), None))
            return {"fixed": self.emulator.fixed_update_id}

        return await self._handle(request, change)

    async def outage(self, request: Request) -> Response:
        def change(body: object) -> JsonObject:
            if request.method == "PUT":
                delay_s = _option(body, "delay_s", (int, Decimal), None)
                try:
                    self.switch.start(
                        _option(body, "mode", (str,), "error"),
                        status=_option(body, "status", (int,), 502),
                        delay_s=None if delay_s is None else float(delay_s),
                    )
                except ValueError as error:
                    raise ControlError(400, str(error)) from None
            elif request.method == "DELETE":
                self.switch.end()
            return self._outage_state()

        return await self._handle(request, change)

    def _outage_state(self) -> JsonObject:
        current = self.switch.current
        return {"active": current is not None, **(current.as_dict() if current else {})}

    async def reset(self, request: Request) -> Response:
        async def reset(body: object) -> JsonObject:
            self.emulator.reset(keep_apps=_option(body, "keep_apps", (bool,), False))
            await self.dispatcher.reset()
            self.switch.end()
            return {"reset": True}

        return await self._handle(request, reset)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(API_PREFIX) and exc.status_code in (404, 405):
        return _api_error(method_not_found())
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def create_app(
    emulator: CryptoPayEmulator | None = None, *, outage: OutageSwitch | None = None
) -> Starlette:
    """The emulator served over HTTP; webhooks go out while the app's lifespan runs.

    The app takes over the emulator's ``webhook_sink``: one app per emulator. ``outage``
    may be a switch shared with other emulators; ``/sandbox`` is never affected by it.
    """
    crypto_pay = emulator or CryptoPayEmulator()
    owns_switch = outage is None
    switch = outage or OutageSwitch()
    dispatcher = WebhookDispatcher(crypto_pay.config.delivery)
    crypto_pay.webhook_sink = dispatcher.submit

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            if owns_switch:
                switch.end()
            await dispatcher.stop()

    app = Starlette(
        routes=_CryptoPayApi(crypto_pay).routes()
        + _SandboxControl(crypto_pay, dispatcher, switch).routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
        middleware=[
            Middleware(OutageMiddleware, switch=switch, exempt_prefix=f"{CONTROL_PREFIX}/")
        ],
    )
    app.state.emulator = crypto_pay
    app.state.dispatcher = dispatcher
    app.state.outage = switch
    return app
