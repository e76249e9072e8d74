"""The service HTTP server's own limits, against a real uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from chassis.server import server_config
from chassis.settings import ServiceSettings
from devstack._proc import free_port


class EchoSettings(ServiceSettings):
    service_name = "echo"


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        body = await request.body()
        return {"client": request.client.host if request.client else None, "bytes": len(body)}

    @app.get("/who")
    async def who(request: Request) -> dict[str, object]:
        return {"client": request.client.host if request.client else None}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def ticks() -> AsyncIterator[bytes]:
            for _ in range(4):
                await asyncio.sleep(0.3)  # longer in all than the 0.5 s body deadline
                yield b"tick\n"

        return StreamingResponse(ticks())

    return app


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def server() -> AsyncIterator[int]:
    port = free_port()
    settings = EchoSettings(
        http_port=port,
        http_max_body_bytes=64 * 1024,
        http_header_timeout_s=0.5,
        http_body_timeout_s=0.5,
    )
    running = uvicorn.Server(server_config(echo_app(), settings))
    running.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
    yield port
    running.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


async def exchange(port: int, request: bytes, *, then: bytes = b"", pause_s: float = 0) -> bytes:
    """Send raw bytes, optionally pause and send more, and read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        if pause_s:
            await asyncio.sleep(pause_s)
        if then:
            with contextlib.suppress(ConnectionError):
                writer.write(then)
                await writer.drain()
        return await asyncio.wait_for(_read_to_end(reader), 5)
    finally:
        writer.close()


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            data += chunk
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def json_of(response: bytes) -> dict[str, object]:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]


async def test_x_forwarded_for_from_loopback_is_not_believed_by_the_server(server: int) -> None:
    response = await exchange(
        server,
        b"GET /who HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 185.71.76.5\r\n"
        b"Forwarded: for=185.71.76.5\r\nConnection: close\r\n\r\n",
    )
    assert status_of(response) == 200
    assert json_of(response)["client"] == "127.0.0.1"


async def test_a_declared_oversize_body_is_refused_before_it_is_read(server: int) -> None:
    response = await exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 209715200\r\n\r\n",
    )
    assert status_of(response) == 413
    assert b"connection: close" in response.lower()


async def test_a_chunked_body_is_refused_once_it_passes_the_cap(server: int) -> None:
    chunk = b"x" * 16384
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8))
    response = await exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks,
    )
    assert status_of(response) == 413


async def test_a_body_within_the_cap_is_served(server: int) -> None:
    body = b"x" * 60_000
    response = await exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body),
    )
    assert status_of(response) == 200
    assert json_of(response)["bytes"] == 60_000


async def test_a_body_that_never_arrives_is_answered_408(server: int) -> None:
    response = await exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{",
    )
    assert status_of(response) == 408


async def test_headers_sent_too_slowly_are_answered_408_and_closed(server: int) -> None:
    response = await exchange(
        server, b"POST /echo HTTP/1.1\r\nHost: t\r\n", then=b"X-A: b\r\n", pause_s=0.3
    )
    assert status_of(response) == 408


async def test_a_connection_that_sends_nothing_is_closed(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    try:
        data = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    assert status_of(data) == 408


async def test_a_kept_alive_connection_gets_a_new_header_deadline(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    try:
        writer.write(b"GET /who HTTP/1.1\r\nHost: t\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"}"), 5)
        assert status_of(first) == 200
        writer.write(b"GET /who HTTP/1.1\r\nHost: t\r\n")  # never finished
        rest = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    assert status_of(rest) == 408


async def test_oversize_headers_are_refused(server: int) -> None:
    response = await exchange(
        server, b"GET /who HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    )
    assert status_of(response) == 431
    # and headers that never end are cut off while they are buffered
    response = await exchange(server, b"GET /who HTTP/1.1\r\nX-Big: " + b"a" * 200_000)
    assert status_of(response) == 400


async def test_a_streaming_response_outlives_the_body_deadline(server: int) -> None:
    response = await exchange(
        server, b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    assert status_of(response) == 200
    assert response.endswith(b"0\r\n\r\n")  # the chunked body ended normally
    assert b"tick" in response


async def test_both_length_and_chunked_is_refused_and_the_connection_closed(server: int) -> None:
    smuggled = b"GET /who HTTP/1.1\r\nHost: t\r\n\r\n"
    response = await exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n"
        b"\r\n2\r\n{}\r\n0\r\n\r\n" + smuggled,
    )
    assert status_of(response) == 400
    assert response.count(b"HTTP/1.1 ") == 1  # the request behind it was never served


async def test_a_client_hanging_up_mid_body_is_no_error(
    server: int, caplog: pytest.LogCaptureFixture
) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n{")
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await asyncio.sleep(0.2)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
