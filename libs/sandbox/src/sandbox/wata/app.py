"""The emulator over HTTP: WATA's H2H API under ``/api/h2h``, test controls under ``/sandbox``."""

from __future__ import annotations

import base64
import binascii
import contextlib
import inspect
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.outage import OutageMiddleware, OutageSwitch
from sandbox.wata import wire
from sandbox.wata.emulator import WataEmulator
from sandbox.wata.errors import ApiError, invalid_field
from sandbox.wata.model import JsonObject, Terminal
from sandbox.wata.notifications import WebhookDispatcher
from sandbox.wata.validation import Query

API_PREFIX: Final = "/api/h2h"
CONTROL_PREFIX: Final = "/sandbox"
JSON_MEDIA_TYPE: Final = "application/json; charset=utf-8"
SIGNATURE_MODES: Final = ("valid", "missing", "garbage", "other-body", "foreign-key", "custom")


def _json(body: object, status: int = 200) -> Response:
    return Response(wire.dumps(body), status_code=status, media_type=JSON_MEDIA_TYPE)


def _error(error: ApiError) -> Response:
    body = error.body()
    if body is None:
        return Response(status_code=error.status, headers=error.headers)
    response = _json(body, error.status)
    response.headers.update(error.headers)
    return response


def _decode(raw: bytes) -> object:
    if not raw.strip():
        raise invalid_field("A non-empty request body is required.", "$")
    try:
        return wire.loads(raw)
    except ValueError:
        raise invalid_field("The request body is not valid JSON.", "$") from None


def _unsupported_media_type() -> Response:
    # ASP.NET's own answer for a [FromBody] action hit without application/json.
    return _json(
        {
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.16",
            "title": "Unsupported Media Type",
            "status": 415,
            "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
        },
        415,
    )


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _both_slashes(path: str, endpoint: Callable[[Request], Any], methods: list[str]) -> list[Route]:
    """ASP.NET routes ignore a trailing slash, and integrations call ``/links/`` too."""
    return [Route(path, endpoint, methods=methods), Route(f"{path}/", endpoint, methods=methods)]


class _WataApi:
    """``/api/h2h``: Bearer token on everything but ``/public-key``."""

    def __init__(self, emulator: WataEmulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[BaseRoute]:
        p = API_PREFIX
        return [
            *_both_slashes(f"{p}/public-key", self.public_key, ["GET"]),
            *_both_slashes(f"{p}/links", self.links, ["GET", "POST"]),
            *_both_slashes(f"{p}/links/{{link_id}}", self.get_link, ["GET"]),
            *_both_slashes(f"{p}/transactions/refunds", self.refund, ["POST"]),
            *_both_slashes(f"{p}/transactions/{{transaction_id}}", self.get_transaction, ["GET"]),
            *_both_slashes(f"{p}/v2/transactions", self.search_transactions, ["GET"]),
        ]

    async def _read(self, request: Request, read: Callable[[Terminal], object]) -> Response:
        try:
            terminal = self.emulator.authenticate(request.headers.get("authorization"))
            return _json(read(terminal))
        except ApiError as error:
            return _error(error)

    async def _write(
        self, request: Request, write: Callable[[Terminal, object], object]
    ) -> Response:
        try:
            terminal = self.emulator.authenticate(request.headers.get("authorization"))
            if not _is_json(request):
                return _unsupported_media_type()
            return _json(write(terminal, _decode(await request.body())))
        except ApiError as error:
            return _error(error)

    async def public_key(self, request: Request) -> Response:
        return _json({"value": self.emulator.public_key()})

    async def links(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._write(
                request, lambda terminal, body: self.emulator.create_link(terminal, body).to_json()
            )
        query = Query(request.query_params.multi_items())

        def search(terminal: Terminal) -> JsonObject:
            self.emulator.throttle(terminal, "links", query.text("OrderId") or "")
            return self.emulator.search_links(terminal, query)

        return await self._read(request, search)

    async def get_link(self, request: Request) -> Response:
        link_id = request.path_params["link_id"]

        def read(terminal: Terminal) -> JsonObject:
            self.emulator.throttle(terminal, "link", link_id.lower())
            return self.emulator.link(terminal, link_id).to_json()

        return await self._read(request, read)

    async def get_transaction(self, request: Request) -> Response:
        transaction_id = request.path_params["transaction_id"]

        def read(terminal: Terminal) -> JsonObject:
            self.emulator.throttle(terminal, "transaction", transaction_id.lower())
            return self.emulator.transaction(terminal, transaction_id).to_json()

        return await self._read(request, read)

    async def search_transactions(self, request: Request) -> Response:
        query = Query(request.query_params.multi_items())

        def search(terminal: Terminal) -> JsonObject:
            self.emulator.throttle(terminal, "transactions", query.text("OrderId") or "")
            return self.emulator.search_transactions(terminal, query)

        return await self._read(request, search)

    async def refund(self, request: Request) -> Response:
        return await self._write(request, self.emulator.create_refund)


def _option(body: object, name: str, kinds: tuple[type, ...], default: Any) -> Any:
    """An optional field of a control request; JSON's true is not a number here."""
    if body is None:
        return default
    if not isinstance(body, dict):
        raise invalid_field("Request body must be a JSON object", "$")
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds):
        raise invalid_field(f"Invalid {name} value", name)
    return value


def _bytes_option(body: object, name: str) -> bytes | None:
    encoded = _option(body, name, (str,), None)
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise invalid_field(f"{name} must be base64", name) from None


class _SandboxControl:
    """``/sandbox``: what tests do in place of the payer, the bank and the merchant cabinet."""

    def __init__(
        self, emulator: WataEmulator, dispatcher: WebhookDispatcher, outage: OutageSwitch
    ) -> None:
        self.emulator = emulator
        self.dispatcher = dispatcher
        self.outage = outage

    def routes(self) -> list[BaseRoute]:
        c = CONTROL_PREFIX
        return [
            Route(f"{c}/terminals", self.terminals, methods=["GET", "POST"]),
            Route(f"{c}/terminals/{{public_id}}", self.configure_terminal, methods=["PATCH"]),
            Route(f"{c}/links/{{link_id}}", self.link_state, methods=["GET"]),
            Route(f"{c}/links/{{link_id}}/pay", self.pay, methods=["POST"]),
            Route(f"{c}/transactions/{{transaction_id}}", self.transaction_state, methods=["GET"]),
            Route(f"{c}/transactions/{{transaction_id}}/settle", self.settle, methods=["POST"]),
            Route(
                f"{c}/transactions/{{transaction_id}}/resend-webhook",
                self.resend_webhook,
                methods=["POST"],
            ),
            Route(f"{c}/refund-plan", self.refund_plan, methods=["POST", "DELETE"]),
            Route(f"{c}/webhooks/forged", self.forged_webhook, methods=["POST"]),
            Route(f"{c}/deliveries", self.deliveries, methods=["GET"]),
            Route(f"{c}/keys", self.key, methods=["GET"]),
            Route(f"{c}/keys/rotate", self.rotate_key, methods=["POST"]),
            Route(f"{c}/clock/advance", self.advance_clock, methods=["POST"]),
            Route(f"{c}/outage", self.outage_control, methods=["GET", "PUT", "DELETE"]),
            Route(f"{c}/reset", self.reset, methods=["POST"]),
        ]

    async def _handle(self, request: Request, action: Callable[[object], Any]) -> Response:
        try:
            raw = await request.body()
            result = action(wire.loads(raw) if raw.strip() else None)
            if inspect.isawaitable(result):
                result = await result
        except ValueError as error:
            return _error(invalid_field(str(error), "$"))
        except ApiError as error:
            return _error(error)
        return _json(result)

    async def terminals(self, request: Request) -> Response:
        if request.method == "GET":
            return _json([terminal.settings() for terminal in self.emulator.terminals()])
        return await self._handle(request, lambda body: self.emulator.add_terminal(body).settings())

    async def configure_terminal(self, request: Request) -> Response:
        public_id = request.path_params["public_id"]
        return await self._handle(
            request, lambda body: self.emulator.configure_terminal(public_id, body).settings()
        )

    async def link_state(self, request: Request) -> Response:
        link_id = request.path_params["link_id"]
        return await self._handle(request, lambda _: self.emulator.link_state(link_id))

    async def pay(self, request: Request) -> Response:
        link_id = request.path_params["link_id"]

        def pay(body: object) -> JsonObject:
            amount = _option(body, "amount", (int, Decimal), None)
            return self.emulator.pay(
                link_id,
                method=_option(body, "method", (str,), "CardCrypto"),
                outcome=_option(body, "outcome", (str,), "Paid"),
                error_code=_option(body, "errorCode", (str,), None),
                error_description=_option(body, "errorDescription", (str,), None),
                amount=None if amount is None else Decimal(amount),
                email=_option(body, "email", (str,), None),
            ).to_json()

        return await self._handle(request, pay)

    async def transaction_state(self, request: Request) -> Response:
        transaction_id = request.path_params["transaction_id"]
        return await self._handle(
            request, lambda _: self.emulator.transaction_state(transaction_id)
        )

    async def settle(self, request: Request) -> Response:
        transaction_id = request.path_params["transaction_id"]
        return await self._handle(
            request,
            lambda body: self.emulator.settle(
                transaction_id,
                _option(body, "outcome", (str,), "Paid"),
                error_code=_option(body, "errorCode", (str,), None),
                error_description=_option(body, "errorDescription", (str,), None),
            ).to_json(),
        )

    async def resend_webhook(self, request: Request) -> Response:
        transaction_id = request.path_params["transaction_id"]
        return await self._handle(
            request,
            lambda body: {
                "sent": self.emulator.resend_webhook(
                    transaction_id, _option(body, "times", (int,), 1)
                )
            },
        )

    async def refund_plan(self, request: Request) -> Response:
        if request.method == "DELETE":
            return await self._handle(request, lambda _: self._clear_refund_plan())
        return await self._handle(
            request,
            lambda body: {
                "plan": [
                    step.to_json()
                    for step in self.emulator.plan_refunds(
                        _option(body, "outcome", (str,), "Declined"),
                        error_code=_option(body, "errorCode", (str,), None),
                        error_description=_option(body, "errorDescription", (str,), None),
                        count=_option(body, "count", (int,), 1),
                    )
                ]
            },
        )

    def _clear_refund_plan(self) -> JsonObject:
        self.emulator.clear_refund_plan()
        return {"plan": []}

    async def forged_webhook(self, request: Request) -> Response:
        async def send(body: object) -> JsonObject:
            content = _bytes_option(body, "body")
            if content is None:
                raise invalid_field('Expected {"body": "<base64 of the bytes to POST>"}', "body")
            terminal = self._forgery_target(_option(body, "terminalPublicId", (str,), None))
            url: str | None = _option(body, "url", (str,), None)
            if url is None and terminal is not None:
                url = terminal.webhook_url
            if url is None:
                raise invalid_field("No url given and the terminal has no webhook URL", "url")
            mode = _option(body, "signature", (str,), "valid")
            signature = self._forged_signature(mode, content, body)
            forwarded_for = self.dispatcher.policy.forwarded_for
            if isinstance(body, dict) and "forwardedFor" in body:
                forwarded_for = _option(body, "forwardedFor", (str,), None)
            attempt = await self.dispatcher.send_once(
                url,
                content,
                signature=signature,
                terminal_public_id=terminal.public_id if terminal else None,
                forwarded_for=forwarded_for,
            )
            return attempt.to_json()

        return await self._handle(request, send)

    def _forgery_target(self, public_id: str | None) -> Terminal | None:
        if public_id is not None:
            return self.emulator.terminal(public_id)
        terminals = self.emulator.terminals()
        return terminals[0] if len(terminals) == 1 else None

    def _forged_signature(self, mode: str, content: bytes, body: object) -> str | None:
        key = self.emulator.signing_key
        if mode == "valid":
            return key.sign(content)
        if mode == "missing":
            return None
        if mode == "garbage":
            return key.garbage_signature()
        if mode == "other-body":
            signed = _bytes_option(body, "signedBody")
            return key.sign(content + b" " if signed is None else signed)
        if mode == "foreign-key":
            return key.sign_with_foreign_key(content)
        if mode == "custom":
            value = _option(body, "signatureValue", (str,), None)
            if value is None:
                raise invalid_field("signature custom needs signatureValue", "signatureValue")
            return str(value)
        raise invalid_field(f"signature must be one of {', '.join(SIGNATURE_MODES)}", "signature")

    async def deliveries(self, request: Request) -> Response:
        attempts = self.dispatcher.attempts(
            transaction_id=request.query_params.get("transactionId"),
            kind=request.query_params.get("kind"),
        )
        return _json([attempt.to_json() for attempt in attempts])

    def _key_state(self) -> JsonObject:
        key = self.emulator.signing_key
        return {"value": key.public_pem, "generation": key.generation}

    async def key(self, request: Request) -> Response:
        return _json(self._key_state())

    async def rotate_key(self, request: Request) -> Response:
        self.emulator.rotate_key()
        return _json(self._key_state())

    async def advance_clock(self, request: Request) -> Response:
        def advance(body: object) -> JsonObject:
            seconds = _option(body, "seconds", (int, Decimal), None)
            if seconds is None:
                raise invalid_field("seconds is required", "seconds")
            self.emulator.advance_clock(timedelta(seconds=float(seconds)))
            return {"now": self.emulator.now().isoformat()}

        return await self._handle(request, advance)

    def _outage_state(self) -> JsonObject:
        current = self.outage.current
        return {"active": current is not None, **(current.as_dict() if current else {})}

    async def outage_control(self, request: Request) -> Response:
        def change(body: object) -> JsonObject:
            if request.method == "PUT":
                delay = _option(body, "delay_s", (int, Decimal), None)
                try:
                    self.outage.start(
                        _option(body, "mode", (str,), "error"),
                        status=_option(body, "status", (int,), 502),
                        delay_s=None if delay is None else float(delay),
                    )
                except ValueError as error:
                    raise invalid_field(str(error), "mode") from None
            elif request.method == "DELETE":
                self.outage.end()
            return self._outage_state()

        return await self._handle(request, change)

    async def reset(self, request: Request) -> Response:
        async def reset(body: object) -> JsonObject:
            self.emulator.reset(keep_terminals=_option(body, "keepTerminals", (bool,), False))
            self.outage.end()
            await self.dispatcher.reset()
            return {"reset": True}

        return await self._handle(request, reset)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(f"{API_PREFIX}/"):
        # ASP.NET answers an unknown route or method with an empty body.
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def create_app(emulator: WataEmulator, *, outage: OutageSwitch | None = None) -> Starlette:
    """The emulator served over HTTP; webhooks go out while the app's lifespan runs.

    The app takes over the emulator's ``webhook_sink``: one app per emulator. ``outage``
    (shared with other emulators if given) makes ``/api/h2h`` look down; ``/sandbox`` stays up.
    """
    switch = outage or OutageSwitch()
    dispatcher = WebhookDispatcher(
        emulator.config.delivery,
        signer=emulator.sign,
        key_generation=lambda: emulator.signing_key.generation,
    )
    emulator.webhook_sink = dispatcher.submit

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            switch.end()
            await dispatcher.stop()

    app = Starlette(
        routes=_WataApi(emulator).routes() + _SandboxControl(emulator, dispatcher, switch).routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.add_middleware(OutageMiddleware, switch=switch, exempt_prefix=f"{CONTROL_PREFIX}/")
    app.state.emulator = emulator
    app.state.dispatcher = dispatcher
    app.state.outage = switch
    return app
