"""Delivering webhooks: POST the exact bytes, signed; retry until a 200 or the horizon; log all."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from sandbox.wata.config import DeliveryPolicy
from sandbox.wata.emulator import Webhook

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a webhook; ``started_at``/``finished_at`` are ``time.time()``.

    ``body`` is what was sent (decoded as UTF-8), ``signature`` the ``X-Signature`` sent
    (None: no header), ``key_generation`` the signing key then current (forged: None).
    """

    terminal_public_id: str | None
    url: str
    transaction_id: str | None
    kind: str | None
    transaction_status: str | None
    attempt: int
    started_at: float
    finished_at: float
    status_code: int | None
    error: str | None
    body: str
    signature: str | None
    key_generation: int | None
    forged: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code == 200

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "delivered": self.delivered}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeliveryAttempt:
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        # A client that reads JSON numbers as Decimal still gets the documented floats.
        for moment in ("started_at", "finished_at"):
            fields[moment] = float(fields[moment])
        return cls(**fields)


def _ids_in(body: bytes) -> tuple[str | None, str | None, str | None]:
    """Transaction id, kind and status of a webhook body, whatever its shape."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None, None
    if not isinstance(payload, dict):
        return None, None, None

    def text(name: str) -> str | None:
        value = payload.get(name)
        return value if isinstance(value, str) else None

    return text("transactionId"), text("kind"), text("transactionStatus")


class WebhookDispatcher:
    """Runs deliveries as tasks of the serving event loop, between ``start`` and ``stop``.

    ``signer`` gives the ``X-Signature`` of a body with the key current at that attempt,
    and ``key_generation`` which key that is, so a retry after a rotation carries the new one.
    """

    def __init__(
        self,
        policy: DeliveryPolicy,
        *,
        signer: Callable[[bytes], str],
        key_generation: Callable[[], int],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self._signer = signer
        self._key_generation = key_generation
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: list[Webhook] = []
        self._attempts: list[DeliveryAttempt] = []

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.policy.attempt_timeout, transport=self._transport, trust_env=False
        )
        waiting, self._waiting = self._waiting, []
        for webhook in waiting:
            self.submit(webhook)

    async def stop(self) -> None:
        await self._cancel_deliveries()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def submit(self, webhook: Webhook) -> None:
        if self._client is None:
            self._waiting.append(webhook)
            return
        task = asyncio.get_running_loop().create_task(
            self._deliver(webhook), name=f"wata-webhook-{webhook.transaction_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_once(
        self,
        url: str,
        content: bytes,
        *,
        signature: str | None,
        terminal_public_id: str | None,
        forwarded_for: str | None,
    ) -> DeliveryAttempt:
        """One POST of arbitrary bytes, as a forger would send them; logged, not retried."""
        transaction_id, kind, status = _ids_in(content)
        return await self._post(
            url=url,
            content=content,
            signature=signature,
            key_generation=None,
            terminal_public_id=terminal_public_id,
            transaction_id=transaction_id,
            kind=kind,
            transaction_status=status,
            attempt=1,
            forwarded_for=forwarded_for,
            forged=True,
        )

    def attempts(
        self, *, transaction_id: str | None = None, kind: str | None = None
    ) -> list[DeliveryAttempt]:
        return [
            attempt
            for attempt in self._attempts
            if (transaction_id is None or attempt.transaction_id == transaction_id)
            and (kind is None or attempt.kind == kind)
        ]

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def reset(self) -> None:
        await self._cancel_deliveries()
        self._waiting.clear()
        self._attempts.clear()

    async def _cancel_deliveries(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver(self, webhook: Webhook) -> None:
        deadline = time.monotonic() + self.policy.horizon
        delay = self.policy.first_retry_delay
        attempt = 1
        while True:
            result = await self._post(
                url=webhook.url,
                content=webhook.body,
                signature=self._signer(webhook.body),
                key_generation=self._key_generation(),
                terminal_public_id=webhook.terminal_public_id,
                transaction_id=webhook.transaction_id,
                kind=webhook.kind,
                transaction_status=webhook.status,
                attempt=attempt,
                forwarded_for=self.policy.forwarded_for,
                forged=False,
            )
            if result.delivered:
                return
            if time.monotonic() + delay > deadline:
                log.warning(
                    "gave up delivering the %s webhook of %s to %s after %d attempts",
                    webhook.status,
                    webhook.transaction_id,
                    webhook.url,
                    attempt,
                )
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.policy.max_retry_delay)
            attempt += 1

    async def _post(
        self,
        *,
        url: str,
        content: bytes,
        signature: str | None,
        key_generation: int | None,
        terminal_public_id: str | None,
        transaction_id: str | None,
        kind: str | None,
        transaction_status: str | None,
        attempt: int,
        forwarded_for: str | None,
        forged: bool,
    ) -> DeliveryAttempt:
        if self._client is None:
            raise RuntimeError("the webhook dispatcher is not started")
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        status_code: int | None = None
        error: str | None = None
        started_at = time.time()
        try:
            response = await self._client.post(url, content=content, headers=headers)
            status_code = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        result = DeliveryAttempt(
            terminal_public_id=terminal_public_id,
            url=url,
            transaction_id=transaction_id,
            kind=kind,
            transaction_status=transaction_status,
            attempt=attempt,
            started_at=started_at,
            finished_at=time.time(),
            status_code=status_code,
            error=error,
            body=content.decode(errors="replace"),
            signature=signature,
            key_generation=key_generation,
            forged=forged,
        )
        self._attempts.append(result)
        return result
