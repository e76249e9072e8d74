"""The emulator over HTTP: YooKassa's API under ``/v3``, the test controls under ``/sandbox``."""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.yookassa.emulator import YooKassaEmulator
from sandbox.yookassa.errors import ApiError, invalid_request, not_found
from sandbox.yookassa.idempotence import check_key, request_fingerprint
from sandbox.yookassa.model import JsonObject, Shop
from sandbox.yookassa.notifications import NotificationDispatcher


def _json_body(raw: bytes) -> object:
    """The decoded body, ``None`` when empty; decimals stay exact."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise invalid_request("Request body is not valid JSON") from None


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == "application/json"


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


class _YooKassaApi:
    """``/v3``: Basic auth on every call, Idempotence-Key on every POST."""

    def __init__(self, emulator: YooKassaEmulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [
            Route("/v3/me", self.me, methods=["GET"]),
            Route("/v3/payments", self.payments, methods=["GET", "POST"]),
            Route("/v3/payments/{payment_id}", self.get_payment, methods=["GET"]),
            Route("/v3/payments/{payment_id}/capture", self.capture_payment, methods=["POST"]),
            Route("/v3/payments/{payment_id}/cancel", self.cancel_payment, methods=["POST"]),
            Route("/v3/refunds", self.refunds, methods=["GET", "POST"]),
            Route("/v3/refunds/{refund_id}", self.get_refund, methods=["GET"]),
        ]

    async def _read(self, request: Request, read: Callable[[Shop], JsonObject]) -> Response:
        try:
            shop = self.emulator.authenticate(request.headers.get("authorization"))
            return JSONResponse(read(shop))
        except ApiError as error:
            return _error(error)

    async def _write(
        self, request: Request, write: Callable[[Shop, object], JsonObject]
    ) -> Response:
        try:
            shop = self.emulator.authenticate(request.headers.get("authorization"))
            if not _is_json(request):
                return _error(
                    ApiError(415, "invalid_request", "Content-Type must be application/json")
                )
            key = check_key(request.headers.get("idempotence-key"))
            raw = await request.body()
            fingerprint = request_fingerprint(request.method, request.url.path, raw)
            stored = self.emulator.run_idempotent(
                shop, key, fingerprint, lambda: write(shop, _json_body(raw))
            )
        except ApiError as error:
            return _error(error)
        return JSONResponse(stored.body, status_code=stored.status)

    async def me(self, request: Request) -> Response:
        return await self._read(request, lambda shop: shop.me())

    async def payments(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._write(
                request, lambda shop, body: self.emulator.create_payment(shop, body).to_json()
            )
        query = dict(request.query_params)
        return await self._read(request, lambda shop: self.emulator.list_payments(shop, query))

    async def get_payment(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        return await self._read(
            request, lambda shop: self.emulator.payment(shop, payment_id).to_json()
        )

    async def capture_payment(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        return await self._write(
            request,
            lambda shop, body: self.emulator.capture_payment(shop, payment_id, body).to_json(),
        )

    async def cancel_payment(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        return await self._write(
            request, lambda shop, _: self.emulator.cancel_payment(shop, payment_id).to_json()
        )

    async def refunds(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._write(
                request, lambda shop, body: self.emulator.create_refund(shop, body).to_json()
            )
        query = dict(request.query_params)
        return await self._read(request, lambda shop: self.emulator.list_refunds(shop, query))

    async def get_refund(self, request: Request) -> Response:
        refund_id = request.path_params["refund_id"]
        return await self._read(
            request, lambda shop: self.emulator.refund(shop, refund_id).to_json()
        )


def _option(body: object, name: str, kinds: tuple[type, ...], default: Any) -> Any:
    """An optional field of a control request; JSON's true is not an integer here."""
    if body is None:
        return default
    if not isinstance(body, dict):
        raise invalid_request("Request body must be a JSON object")
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds):
        raise invalid_request(f"Invalid {name} value", name)
    return value


class _SandboxControl:
    """``/sandbox``: what tests do in place of the user, the bank and the merchant profile."""

    def __init__(self, emulator: YooKassaEmulator, dispatcher: NotificationDispatcher) -> None:
        self.emulator = emulator
        self.dispatcher = dispatcher

    def routes(self) -> list[Route]:
        return [
            Route("/sandbox/shops", self.list_shops, methods=["GET"]),
            Route("/sandbox/shops/{shop_id}", self.shop, methods=["PUT", "PATCH"]),
            Route("/sandbox/shops/{shop_id}/notifications", self.send_raw, methods=["POST"]),
            Route("/sandbox/payments/{payment_id}", self.payment_state, methods=["GET"]),
            Route("/sandbox/payments/{payment_id}/succeed", self.succeed, methods=["POST"]),
            Route("/sandbox/payments/{payment_id}/cancel", self.cancel, methods=["POST"]),
            Route("/sandbox/payments/{payment_id}/renotify", self.renotify, methods=["POST"]),
            Route(
                "/sandbox/payment-methods/{method_id}/revoke",
                self.revoke_payment_method,
                methods=["POST"],
            ),
            Route("/sandbox/deliveries", self.deliveries, methods=["GET"]),
            Route("/sandbox/clock/advance", self.advance_clock, methods=["POST"]),
            Route("/sandbox/reset", self.reset, methods=["POST"]),
        ]

    async def _handle(self, request: Request, action: Callable[[object], Any]) -> Response:
        try:
            result = action(_json_body(await request.body()))
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            return _error(error)
        return JSONResponse(result)

    async def list_shops(self, request: Request) -> Response:
        return JSONResponse([shop.settings() for shop in self.emulator.shops()])

    async def shop(self, request: Request) -> Response:
        """PUT adds or replaces a shop, PATCH changes some of its settings."""
        shop_id = request.path_params["shop_id"]
        change = self.emulator.add_shop if request.method == "PUT" else self.emulator.configure_shop
        return await self._handle(request, lambda body: change(shop_id, body).settings())

    async def send_raw(self, request: Request) -> Response:
        shop_id = request.path_params["shop_id"]

        async def send(body: object) -> JsonObject:
            if not isinstance(body, dict) or "body" not in body:
                raise invalid_request('Expected {"body": <notification>}', "body")
            url = _option(body, "url", (str,), None) or self.emulator.shop(shop_id).notification_url
            if url is None:
                raise invalid_request("The shop has no notification_url", "url")
            forwarded_for = _option(
                body, "forwarded_for", (str,), self.dispatcher.policy.forwarded_for
            )
            attempt = await self.dispatcher.send_once(
                shop_id, url, body["body"], forwarded_for=forwarded_for
            )
            return attempt.to_json()

        return await self._handle(request, send)

    async def payment_state(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        return await self._handle(request, lambda _: self.emulator.payment_state(payment_id))

    async def succeed(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        return await self._handle(
            request,
            lambda body: self.emulator.succeed(
                payment_id, _option(body, "payment_method_type", (str,), None)
            ).to_json(),
        )

    async def cancel(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        return await self._handle(
            request,
            lambda body: self.emulator.decline(
                payment_id,
                reason=_option(body, "reason", (str,), "expired_on_confirmation"),
                party=_option(body, "party", (str,), "yoo_money"),
            ).to_json(),
        )

    async def renotify(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        return await self._handle(
            request,
            lambda body: {
                "event": self.emulator.renotify(payment_id, _option(body, "times", (int,), 1))
            },
        )

    async def revoke_payment_method(self, request: Request) -> Response:
        method_id = request.path_params["method_id"]

        def revoke(_: object) -> JsonObject:
            self.emulator.revoke_payment_method(method_id)
            return {"id": method_id, "revoked": True}

        return await self._handle(request, revoke)

    async def deliveries(self, request: Request) -> Response:
        attempts = self.dispatcher.attempts(
            payment_id=request.query_params.get("payment_id"),
            event=request.query_params.get("event"),
        )
        return JSONResponse([attempt.to_json() for attempt in attempts])

    async def advance_clock(self, request: Request) -> Response:
        def advance(body: object) -> JsonObject:
            seconds = _option(body, "seconds", (int, Decimal), None)
            if seconds is None:
                raise invalid_request("seconds is required", "seconds")
            self.emulator.advance_clock(timedelta(seconds=float(seconds)))
            return {"now": self.emulator.now().isoformat()}

        return await self._handle(request, advance)

    async def reset(self, request: Request) -> Response:
        async def reset(body: object) -> JsonObject:
            self.emulator.reset(keep_shops=_option(body, "keep_shops", (bool,), False))
            await self.dispatcher.reset()
            return {"reset": True}

        return await self._handle(request, reset)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and request.url.path.startswith("/v3/"):
        return _error(not_found("The requested resource doesn't exist"))
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def create_app(emulator: YooKassaEmulator) -> Starlette:
    """The emulator served over HTTP; notifications go out while the app's lifespan runs.

    The app takes over the emulator's ``notification_sink``: one app per emulator.
    """
    dispatcher = NotificationDispatcher(emulator.config.delivery)
    emulator.notification_sink = dispatcher.submit

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()

    app = Starlette(
        routes=_YooKassaApi(emulator).routes() + _SandboxControl(emulator, dispatcher).routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.emulator = emulator
    app.state.dispatcher = dispatcher
    return app
