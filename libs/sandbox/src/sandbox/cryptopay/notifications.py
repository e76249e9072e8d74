"""Delivering webhook updates: POST, retry until a 200 or the horizon, log every attempt."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from sandbox.cryptopay.config import DeliveryPolicy
from sandbox.cryptopay.emulator import Webhook
from sandbox.cryptopay.signature import SIGNATURE_HEADER

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of an update; ``started_at``/``finished_at`` are ``time.time()``."""

    app_id: int
    url: str
    update_id: int | None
    invoice_id: int | None
    attempt: int
    started_at: float
    finished_at: float
    status_code: int | None
    error: str | None
    signature: str | None
    forged: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code == 200

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "delivered": self.delivered}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeliveryAttempt:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def _ids_in(content: bytes) -> tuple[int | None, int | None]:
    """``update_id`` and ``payload.invoice_id`` of a body, whatever its shape."""
    try:
        body = json.loads(content)
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    update_id = body.get("update_id")
    payload = body.get("payload")
    invoice_id = payload.get("invoice_id") if isinstance(payload, dict) else None
    return (
        update_id if type(update_id) is int else None,
        invoice_id if type(invoice_id) is int else None,
    )


class WebhookDispatcher:
    """Runs deliveries as tasks of the serving event loop, between ``start`` and ``stop``."""

    def __init__(
        self, policy: DeliveryPolicy, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.policy = policy
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
            self._deliver(webhook), name=f"cryptopay-webhook-{webhook.invoice_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_once(
        self, app_id: int, url: str, content: bytes, signature: str | None
    ) -> DeliveryAttempt:
        """One POST of arbitrary bytes, as a forger would send them; logged, not retried."""
        update_id, invoice_id = _ids_in(content)
        return await self._post(
            app_id=app_id,
            url=url,
            content=content,
            signature=signature,
            update_id=update_id,
            invoice_id=invoice_id,
            attempt=1,
            forged=True,
        )

    def attempts(
        self, *, invoice_id: int | None = None, app_id: int | None = None
    ) -> list[DeliveryAttempt]:
        return [
            attempt
            for attempt in self._attempts
            if (invoice_id is None or attempt.invoice_id == invoice_id)
            and (app_id is None or attempt.app_id == app_id)
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
                app_id=webhook.app_id,
                url=webhook.url,
                content=webhook.content,
                signature=webhook.signature,
                update_id=webhook.update_id,
                invoice_id=webhook.invoice_id,
                attempt=attempt,
                forged=False,
            )
            if result.delivered:
                return
            if time.monotonic() + delay > deadline:
                log.warning(
                    "gave up delivering the update of invoice %s to %s after %d attempts",
                    webhook.invoice_id,
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
        app_id: int,
        url: str,
        content: bytes,
        signature: str | None,
        update_id: int | None,
        invoice_id: int | None,
        attempt: int,
        forged: bool,
    ) -> DeliveryAttempt:
        if self._client is None:
            raise RuntimeError("the webhook dispatcher is not started")
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        status_code: int | None = None
        error: str | None = None
        started_at = time.time()
        try:
            response = await self._client.post(url, content=content, headers=headers)
            status_code = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        result = DeliveryAttempt(
            app_id=app_id,
            url=url,
            update_id=update_id,
            invoice_id=invoice_id,
            attempt=attempt,
            started_at=started_at,
            finished_at=time.time(),
            status_code=status_code,
            error=error,
            signature=signature,
            forged=forged,
        )
        self._attempts.append(result)
        log.debug(
            "webhook attempt %d of invoice %s to %s: %s",
            attempt,
            invoice_id,
            url,
            status_code if error is None else error,
        )
        return result
