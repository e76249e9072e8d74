"""What the emulators' control clients share: the HTTP client of an emulator's
``/sandbox`` control API and its error."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Self

import httpx

JsonObject = dict[str, Any]


class SandboxControlError(Exception):
    """A sandbox's control API refused a request (or answered something unexpected)."""

    def __init__(self, status_code: int, body: object) -> None:
        super().__init__(f"sandbox control API answered {status_code}: {body}")
        self.status_code = status_code
        self.body = body


class ControlClient:
    """A JSON client of ``<base_url>/sandbox/``: every answer but 200 is a
    :class:`SandboxControlError`. Emulators whose objects need their own JSON (WATA's
    decimal amounts) override :meth:`_encode` and :meth:`_decode`."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/sandbox/",
            timeout=timeout,
            transport=transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _object(self, method: str, path: str, body: object = None) -> JsonObject:
        answer = await self._call(method, path, body)
        if not isinstance(answer, dict):
            raise SandboxControlError(200, answer)
        return answer

    async def _list(
        self, method: str, path: str, *, params: dict[str, str] | None = None
    ) -> list[JsonObject]:
        answer = await self._call(method, path, None, params=params)
        if not isinstance(answer, list):
            raise SandboxControlError(200, answer)
        return answer

    async def _call(
        self,
        method: str,
        path: str,
        body: object,
        *,
        params: dict[str, str] | None = None,
    ) -> object:
        content = None if body is None or method in ("GET", "DELETE") else self._encode(body)
        response = await self._http.request(
            method,
            path,
            content=content,
            headers={"Content-Type": "application/json"} if content is not None else None,
            params=params,
        )
        try:
            answer: object = self._decode(response.content)
        except ValueError:
            answer = response.text
        if response.status_code != 200:
            raise SandboxControlError(response.status_code, answer)
        return answer

    def _encode(self, body: object) -> bytes:
        return json.dumps(body).encode()

    def _decode(self, content: bytes) -> object:
        return json.loads(content)
