"""The emulator over HTTP: YooKassa's API under ``/v3``, the test controls under ``/sandbox``.

The outage switch (``sandbox.outage``) sits in front of everything but ``/sandbox``.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast, get_args

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.outage import OutageMiddleware, OutageMode, OutageSwitch
from sandbox.yookassa.emulator import YooKassaEmulator
from sandbox.yookassa.errors import ApiError, invalid_request, not_found
from sandbox.yookassa.idempotence import check_key, request_fingerprint
from sandbox.yookassa.model import JsonObject, Shop
from sandbox.yookassa.notifications import NotificationDispatcher

CONTROL_PREFIX = "/sandbox"


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
        self, request: Request, operation: str, write: Callable[[Shop, object], JsonObject]
    ) -> Response:
        try:
            shop = self.emulator.authenticate(request.headers.get("authorization"))
            if not _is_json(request):
                return _error(
                    ApiError(415, "invalid_request", "Content-Type must be application/json")
                )
            key = check_key(request.headers.get("idempotence-key"))
            raw = await request.body()
            fault = self.emulator.faults.take(operation)
            # A planned failure is never stored under the key: a repeat gets a real answer.
            if fault is not None and not fault.executed:
                return _error(fault.error())
            fingerprint = request_fingerprint(request.method, request.url.path, raw)
            stored = self.emulator.run_idempotent(
                shop, key, fingerprint, lambda: write(shop, _json_body(raw))
            )
            if fault is not None:
                return _error(fault.error())
        except ApiError as error:
            return _error(error)
        return JSONResponse(stored.body, status_code=stored.status)

    async def me(self, request: Request) -> Response:
        return await self._read(request, lambda shop: shop.me())

    async def payments(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._write(
                request,
                "create_payment",
                lambda shop, body: self.emulator.create_payment(shop, body).to_json(),
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
            "capture_payment",
            lambda shop, body: self.emulator.capture_payment(shop, payment_id, body).to_json(),
        )

    async def cancel_payment(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        return await self._write(
            request,
            "cancel_payment",
            lambda shop, _: self.emulator.cancel_payment(shop, payment_id).to_json(),
        )

    async def refunds(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._write(
                request,
                "create_refund",
                lambda shop, body: self.emulator.create_refund(shop, body).to_json(),
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


def _float_option(body: object, name: str) -> float | None:
    value = _option(body, name, (int, Decimal), None)
    return None if value is None else float(value)


class _SandboxControl:
    """``/sandbox``: what tests do in place of the user, the bank and the merchant profile."""

    def __init__(
        self,
        emulator: YooKassaEmulator,
        dispatcher: NotificationDispatcher,
        switch: OutageSwitch,
    ) -> None:
        self.emulator = emulator
        self.dispatcher = dispatcher
        self.switch = switch

    def routes(self) -> list[Route]:
        return [
            Route(f"{CONTROL_PREFIX}/{path}", endpoint, methods=methods)
            for path, endpoint, methods in [
                ("shops", self.list_shops, ["GET"]),
                ("shops/{shop_id}", self.shop, ["PUT", "PATCH"]),
                ("shops/{shop_id}/notifications", self.send_raw, ["POST"]),
                ("payments/{payment_id}", self.payment_state, ["GET"]),
                ("payments/{payment_id}/succeed", self.succeed, ["POST"]),
                ("payments/{payment_id}/cancel", self.cancel, ["POST"]),
                ("payments/{payment_id}/renotify", self.renotify, ["POST"]),
                ("payments/{payment_id}/planned-refunds", self.plan_refunds, ["POST"]),
                ("payment-methods/{method_id}", self.payment_method, ["GET"]),
                ("payment-methods/{method_id}/revoke", self.revoke_payment_method, ["POST"]),
                ("payment-methods/{method_id}/planned-charges", self.plan_charges, ["POST"]),
                ("refunds/{refund_id}", self.refund_state, ["GET"]),
                ("refunds/{refund_id}/succeed", self.succeed_refund, ["POST"]),
                ("refunds/{refund_id}/cancel", self.cancel_refund, ["POST"]),
                ("faults", self.faults, ["GET", "POST", "DELETE"]),
                ("outage", self.outage, ["GET", "PUT", "DELETE"]),
                ("deliveries", self.deliveries, ["GET"]),
                ("clock/advance", self.advance_clock, ["POST"]),
                ("reset", self.reset, ["POST"]),
            ]
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

    async def plan_refunds(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]

        def plan(body: object) -> JsonObject:
            planned = self.emulator.plan_refunds(
                payment_id,
                _option(body, "status", (str,), "pending"),
                reason=_option(body, "reason", (str,), None),
                party=_option(body, "party", (str,), None),
                count=_option(body, "count", (int,), 1),
            )
            return {"planned_refunds": [outcome.to_json() for outcome in planned]}

        return await self._handle(request, plan)

    async def payment_method(self, request: Request) -> Response:
        method_id = request.path_params["method_id"]
        return await self._handle(request, lambda _: self.emulator.payment_method_state(method_id))

    async def plan_charges(self, request: Request) -> Response:
        method_id = request.path_params["method_id"]
        return await self._handle(
            request,
            lambda body: self.emulator.plan_charges(
                method_id,
                _option(body, "status", (str,), "canceled"),
                reason=_option(body, "reason", (str,), None),
                party=_option(body, "party", (str,), None),
                count=_option(body, "count", (int,), 1),
            ).state(),
        )

    async def refund_state(self, request: Request) -> Response:
        refund_id = request.path_params["refund_id"]
        return await self._handle(request, lambda _: self.emulator.refund_state(refund_id))

    async def succeed_refund(self, request: Request) -> Response:
        refund_id = request.path_params["refund_id"]
        return await self._handle(
            request, lambda _: self.emulator.succeed_refund(refund_id).to_json()
        )

    async def cancel_refund(self, request: Request) -> Response:
        refund_id = request.path_params["refund_id"]
        return await self._handle(
            request,
            lambda body: self.emulator.cancel_refund(
                refund_id,
                reason=_option(body, "reason", (str,), "general_decline"),
                party=_option(body, "party", (str,), "payment_network"),
            ).to_json(),
        )

    async def faults(self, request: Request) -> Response:
        """POST plans failures of one operation, DELETE forgets every plan, GET lists them."""

        def change(body: object) -> JsonObject:
            plan = self.emulator.faults
            if request.method == "POST":
                plan.plan(
                    _option(body, "operation", (str,), "create_payment"),
                    _option(body, "status", (int,), 500),
                    _option(body, "count", (int,), 1),
                    executed=_option(body, "executed", (bool,), False),
                )
            elif request.method == "DELETE":
                plan.clear()
            return {"faults": [fault.to_json() for fault in plan.planned()]}

        return await self._handle(request, change)

    def _outage_state(self) -> JsonObject:
        current = self.switch.current
        return {"active": current is not None, **(current.as_dict() if current else {})}

    async def outage(self, request: Request) -> Response:
        """PUT starts an outage of the API (``mode``, ``status``, ``delay_s``), DELETE ends it."""

        def change(body: object) -> JsonObject:
            if request.method == "PUT":
                mode = _option(body, "mode", (str,), "error")
                if mode not in get_args(OutageMode):
                    raise invalid_request("mode must be 'error' or 'timeout'", "mode")
                try:
                    self.switch.start(
                        cast(OutageMode, mode),
                        status=_option(body, "status", (int,), 502),
                        delay_s=_float_option(body, "delay_s"),
                    )
                except ValueError as exc:
                    raise invalid_request(str(exc)) from None
            elif request.method == "DELETE":
                self.switch.end()
            return self._outage_state()

        return await self._handle(request, change)

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
            seconds = _float_option(body, "seconds")
            if seconds is None:
                raise invalid_request("seconds is required", "seconds")
            self.emulator.advance_clock(timedelta(seconds=seconds))
            return {"now": self.emulator.now().isoformat()}

        return await self._handle(request, advance)

    async def reset(self, request: Request) -> Response:
        async def reset(body: object) -> JsonObject:
            self.emulator.reset(keep_shops=_option(body, "keep_shops", (bool,), False))
            self.switch.end()
            await self.dispatcher.reset()
            return {"reset": True}

        return await self._handle(request, reset)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and request.url.path.startswith("/v3/"):
        return _error(not_found("The requested resource doesn't exist"))
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def create_app(emulator: YooKassaEmulator, *, outage: OutageSwitch | None = None) -> Starlette:
    """The emulator served over HTTP; notifications go out while the app's lifespan runs.

    The app takes over the emulator's ``notification_sink``: one app per emulator.
    """
    dispatcher = NotificationDispatcher(emulator.config.delivery)
    emulator.notification_sink = dispatcher.submit
    switch = outage or OutageSwitch()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            switch.end()
            await dispatcher.stop()

    control = _SandboxControl(emulator, dispatcher, switch)
    app = Starlette(
        routes=_YooKassaApi(emulator).routes() + control.routes(),
        middleware=[
            Middleware(OutageMiddleware, switch=switch, exempt_prefix=f"{CONTROL_PREFIX}/")
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.emulator = emulator
    app.state.dispatcher = dispatcher
    app.state.outage = switch
    return app
