"""The HTTP server every service runs: uvicorn, with limits that hold against hostile clients.

uvicorn alone reads a request body of any size, waits forever for headers and bodies that
trickle in, and believes ``X-Forwarded-For`` from loopback. Here the body is capped while it
is read (and refused at once on ``Content-Length``), headers and bodies must arrive within a
deadline, connections are bounded, and proxy headers are left to the application's own rule
(the gateway's trusted proxies), so that no default of the server decides who a client is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import h11
import uvicorn
from prometheus_client import Counter
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from chassis.settings import ServiceSettings

log = logging.getLogger(__name__)

REJECTED = Counter(
    "http_requests_rejected_total",
    "Requests refused by the server's own limits before reaching a route, by reason",
    ["service", "reason"],
)


class _Refused(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


class RequestLimits:
    """ASGI middleware: caps the request's headers and body and bounds the time the body takes.

    A declared ``Content-Length`` over the cap is refused before a byte of the body is read;
    a chunked body is counted as it streams and refused as soon as it passes the cap, so
    no more than the cap (plus one chunk) is ever held. A body that does not arrive within
    ``body_timeout_s`` of the request is refused with 408, and one that declares both a
    ``Content-Length`` and a ``Transfer-Encoding`` with 400. The refusal is raised out of the
    application's ``receive``; whatever error response the application then tries to send
    is replaced by the refusal, so it is one short 4xx and one log line, never a 500.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_body_bytes: int,
        max_header_bytes: int,
        body_timeout_s: float,
    ) -> None:
        self.app = app
        self._service = service
        self._max_body = max_body_bytes
        self._max_headers = max_header_bytes
        self._body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        early = self._refuse_on_headers(scope)
        if early is not None:
            await self._refuse(scope, send, early)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._body_timeout_s
        received = 0
        body_done = False
        started = False
        refusal: _Refused | None = None

        async def limited_receive() -> Message:
            nonlocal received, refusal, body_done
            if body_done:
                # Past the body only a disconnect can come, whenever it does (a streaming
                # response listens for it): no deadline.
                return await receive()
            remaining = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(remaining, 0.001))
            except TimeoutError:
                refusal = _Refused(
                    408, "body_timeout", f"body not received within {self._body_timeout_s:g}s"
                )
                raise refusal from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_body:
                    refusal = _Refused(413, "body_too_large", f"body over {self._max_body} bytes")
                    raise refusal
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refusal is not None and not started:
                return  # the application's error answer to our refusal: ours is sent instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _Refused as refused:
            if started:
                raise
            await self._refuse(scope, send, refused)
        except ClientDisconnect:
            # The client hung up before its body was complete (or sent framing the server
            # refused, which ends the body the same way): nobody is left to answer. Counted,
            # never a traceback per connection for anyone to flood the log with.
            REJECTED.labels(self._service, "client_disconnected").inc()

    def _refuse_on_headers(self, scope: Scope) -> _Refused | None:
        size = 0
        framings = set()
        for name, value in scope.get("headers", ()):
            size += len(name) + len(value) + 4
            if name in (b"content-length", b"transfer-encoding"):
                framings.add(name)
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # h11 has refused a malformed one already
                if declared > self._max_body:
                    return _Refused(413, "body_too_large", f"body over {self._max_body} bytes")
        if size > self._max_headers:
            return _Refused(431, "headers_too_large", f"headers over {self._max_headers} bytes")
        if len(framings) == 2:
            # Two ways to tell where the body ends: the way request smuggling starts behind a
            # proxy that reads the other one (RFC 9112 6.3). Refused, and the connection closed.
            return _Refused(
                400, "ambiguous_length", "both Transfer-Encoding and Content-Length were sent"
            )
        return None

    async def _refuse(self, scope: Scope, send: Send, refused: _Refused) -> None:
        REJECTED.labels(self._service, refused.reason).inc()
        client = scope.get("client")
        log.info(
            "request refused: %s",
            refused.detail,
            extra={
                "reason": refused.reason,
                "path": scope.get("path"),
                "peer": client[0] if client else None,
            },
        )
        body = json.dumps({"error": refused.detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": refused.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is never read: the connection cannot be reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers.

    uvicorn times out only idle keep-alive connections: a client that opens a connection
    and sends its headers a byte at a time holds it forever. Here every connection has
    ``header_timeout_s`` from its opening (or from the end of the previous response) to
    finish the request line and headers; past it the server answers 408 and closes.
    """

    header_timeout_s: float = 10.0
    service: str = "service"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()
        else:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The keep-alive timer bounds the idle wait; this bounds a next request that starts
        # but never finishes its headers.
        self._disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(
                self.header_timeout_s, self._headers_too_slow
            )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        REJECTED.labels(self.service, "header_timeout").inc()
        if self.conn.our_state is h11.IDLE:
            with contextlib.suppress(Exception):  # the connection is being dropped anyway
                self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()


def _plain_response(status: str, error: str) -> bytes:
    body = json.dumps({"error": error}).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


_REQUEST_TIMEOUT = _plain_response("408 Request Timeout", "request headers not received in time")


def server_config(app: ASGIApp, settings: ServiceSettings) -> uvicorn.Config:
    """The uvicorn configuration of a service, with its ingress limits.

    One function for every runtime (``make up``, compose and Kubernetes all run
    ``python -m <service> serve``), so the limits and the proxy rule cannot differ.
    """
    service = type(settings).service_name
    protocol = type(
        "ServiceH11Protocol",
        (BoundedH11Protocol,),
        {"header_timeout_s": settings.http_header_timeout_s, "service": service},
    )
    limited = RequestLimits(
        app,
        service=service,
        max_body_bytes=settings.http_max_body_bytes,
        max_header_bytes=settings.http_max_header_bytes,
        body_timeout_s=settings.http_body_timeout_s,
    )
    return uvicorn.Config(
        limited,
        host=settings.http_host,
        port=settings.http_port,
        http=protocol,
        log_config=None,
        access_log=False,
        # Who the client is, is the application's rule (GATEWAY_TRUSTED_PROXIES), never
        # uvicorn's default of believing X-Forwarded-For from 127.0.0.1.
        proxy_headers=False,
        server_header=False,
        limit_concurrency=settings.http_max_connections,
        backlog=settings.http_backlog,
        timeout_keep_alive=settings.http_keep_alive_s,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        lifespan="on",
    )
