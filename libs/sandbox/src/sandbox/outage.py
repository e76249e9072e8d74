"""A switch that makes a third party look down, for failure tests (shared by the emulators).

``error``: every request gets a 5xx at once; 500 is a bare ``Internal Server Error``, any
other code the HTML page nginx (the usual reverse proxy in front of such an API) serves when
the service behind it is gone. ``timeout``: requests hang for ``delay_s`` seconds, or until
the outage ends, and are then handled normally; a request whose client gave up while it hung
is dropped without reaching the emulator, as when the proxy's upstream does not answer. A refused
connection cannot be emulated by a server that is listening, so it is not offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.nginx import error_page

OutageMode = Literal["error", "timeout"]


@dataclass(frozen=True)
class Outage:
    mode: OutageMode
    status: int
    delay_s: float | None
    started_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class OutageSwitch:
    def __init__(self) -> None:
        self._outage: Outage | None = None
        self._ended = asyncio.Event()

    @property
    def current(self) -> Outage | None:
        return self._outage

    def start(
        self, mode: OutageMode = "error", *, status: int = 502, delay_s: float | None = None
    ) -> Outage:
        if mode not in ("error", "timeout"):
            raise ValueError("mode must be 'error' or 'timeout'")
        if not 500 <= status <= 599:
            raise ValueError("status must be a 5xx code")
        if delay_s is not None and delay_s < 0:
            raise ValueError("delay_s cannot be negative")
        self._ended.set()  # requests held by an earlier outage go on
        self._ended = asyncio.Event()
        self._outage = Outage(mode, status, delay_s, time.time())
        return self._outage

    def end(self) -> None:
        self._outage = None
        self._ended.set()

    async def hold(self, delay_s: float | None) -> None:
        """Wait ``delay_s`` seconds (None: forever), or less if the outage ends first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), delay_s)


class OutageMiddleware:
    """Applies the switch to every HTTP request outside ``exempt_prefix``."""

    def __init__(self, app: ASGIApp, switch: OutageSwitch, *, exempt_prefix: str) -> None:
        self.app = app
        self.switch = switch
        self.exempt_prefix = exempt_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outage = self.switch.current
        if (
            outage is None
            or scope["type"] != "http"
            or scope["path"].startswith(self.exempt_prefix)
        ):
            await self.app(scope, receive, send)
            return
        if outage.mode == "error":
            await self._fail(outage.status, send)
            return
        body = await self._read_body(receive)
        if body is None or not await self._survives_hold(outage, receive):
            return
        await self.app(scope, self._replay(body, receive), send)

    @staticmethod
    async def _fail(status: int, send: Send) -> None:
        page, content_type = error_page(status)
        headers = [(b"content-type", content_type), (b"content-length", str(len(page)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    @staticmethod
    async def _read_body(receive: Receive) -> list[Message] | None:
        messages: list[Message] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            messages.append(message)
            if not message.get("more_body", False):
                return messages

    async def _survives_hold(self, outage: Outage, receive: Receive) -> bool:
        disconnect = asyncio.ensure_future(receive())
        hold = asyncio.ensure_future(self.switch.hold(outage.delay_s))
        try:
            await asyncio.wait({disconnect, hold}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (disconnect, hold):
                task.cancel()
        return not (disconnect.done() and not disconnect.cancelled())

    @staticmethod
    def _replay(messages: list[Message], receive: Receive) -> Receive:
        pending = list(messages)

        async def replayed() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        return replayed
