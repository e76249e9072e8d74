"""Serving an emulator: uvicorn on a loopback port, inside the caller's event loop.

Tests start an emulator in their own loop and stop it afterwards; ``python -m sandbox``
starts all of them in one process for ``make up``, the demo and the benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class _QuietAfterStop(logging.Filter):
    """Hides uvicorn's complaints about long polls it cancels when the server stops.

    A test or ``make chat`` may leave a long poll open (``getUpdates``, the sent feed);
    ending it is what stopping means, not an error worth a traceback.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopping = 0  # servers being stopped right now

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.stopping:
            return True
        cancelled = record.exc_info is not None and isinstance(
            record.exc_info[1], asyncio.CancelledError
        )
        return not (cancelled or "timeout graceful shutdown exceeded" in record.getMessage())


_QUIET = _QuietAfterStop()
logging.getLogger("uvicorn.error").addFilter(_QUIET)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: signals belong to whoever runs the loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class SandboxServer:
    """One ASGI app served on ``host:port`` (port 0: a free one, readable after start)."""

    def __init__(self, app: ASGIApp, *, name: str, host: str = LOOPBACK, port: int = 0) -> None:
        self.app = app
        self.name = name
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"the {self.name} sandbox is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        # Binding ourselves makes port 0 usable: the port is known before serving starts.
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that name TCP, and
        # without it every request on a kept-alive connection waits ~40 ms for delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        sock.setblocking(False)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
        )
        server = _EmbeddedServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name=f"sandbox-{self.name}")
        while not server.started:
            if self._task.done():
                self._task.result()  # surfaces the start-up error
                raise RuntimeError(f"the {self.name} sandbox stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("%s sandbox listening on %s", self.name, self.url)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        _QUIET.stopping += 1
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=5)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        finally:
            _QUIET.stopping -= 1
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._task = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, *, name: str, port: int = 0) -> AsyncIterator[SandboxServer]:
    """``async with serving(app, name="marzban") as server: ... server.url ...``"""
    server = SandboxServer(app, name=name, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
