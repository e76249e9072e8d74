"""Delivering notifications to shops: POST, retry until a 200 or the horizon, log every attempt."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from sandbox.yookassa.config import DeliveryPolicy
from sandbox.yookassa.emulator import Notification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a notification; ``started_at``/``finished_at`` are ``time.time()``."""

    shop_id: str
    url: str
    event: str | None
    payment_id: str | None
    object_id: str | None
    attempt: int
    started_at: float
    finished_at: float
    status_code: int | None
    error: str | None
    forged: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code == 200

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "delivered": self.delivered}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeliveryAttempt:
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        return cls(**fields)


def _ids_in(body: object) -> tuple[str | None, str | None, str | None]:
    """Event, payment id and object id of a notification body, whatever its shape."""
    if not isinstance(body, dict):
        return None, None, None
    event = body.get("event") if isinstance(body.get("event"), str) else None
    obj = body.get("object")
    if not isinstance(obj, dict):
        return event, None, None
    object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    payment_id = obj.get("payment_id") if isinstance(obj.get("payment_id"), str) else object_id
    return event, payment_id, object_id


class NotificationDispatcher:
    """Runs deliveries as tasks of the serving event loop, between ``start`` and ``stop``."""

    def __init__(
        self, policy: DeliveryPolicy, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.policy = policy
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: list[Notification] = []
        self._attempts: list[DeliveryAttempt] = []

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.policy.attempt_timeout, transport=self._transport, trust_env=False
        )
        waiting, self._waiting = self._waiting, []
        for notification in waiting:
            self.submit(notification)

    async def stop(self) -> None:
        await self._cancel_deliveries()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def submit(self, notification: Notification) -> None:
        if self._client is None:
            self._waiting.append(notification)
            return
        task = asyncio.get_running_loop().create_task(
            self._deliver(notification), name=f"yookassa-notify-{notification.event}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_once(
        self, shop_id: str, url: str, body: object, *, forwarded_for: str | None
    ) -> DeliveryAttempt:
        """One POST of an arbitrary body, as a forger would send it; logged, not retried."""
        event, payment_id, object_id = _ids_in(body)
        return await self._post(
            shop_id=shop_id,
            url=url,
            content=json.dumps(body, ensure_ascii=False).encode(),
            event=event,
            payment_id=payment_id,
            object_id=object_id,
            attempt=1,
            forwarded_for=forwarded_for,
            forged=True,
        )

    def attempts(
        self, *, payment_id: str | None = None, event: str | None = None
    ) -> list[DeliveryAttempt]:
        return [
            attempt
            for attempt in self._attempts
            if (payment_id is None or attempt.payment_id == payment_id)
            and (event is None or attempt.event == event)
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

    async def _deliver(self, notification: Notification) -> None:
        content = json.dumps(notification.body, ensure_ascii=False).encode()
        deadline = time.monotonic() + self.policy.horizon
        delay = self.policy.first_retry_delay
        attempt = 1
        while True:
            result = await self._post(
                shop_id=notification.shop_id,
                url=notification.url,
                content=content,
                event=notification.event,
                payment_id=notification.payment_id,
                object_id=notification.object_id,
                attempt=attempt,
                forwarded_for=self.policy.forwarded_for,
                forged=False,
            )
            if result.delivered:
                return
            if time.monotonic() + delay > deadline:
                log.warning(
                    "gave up delivering %s of %s to %s after %d attempts",
                    notification.event,
                    notification.object_id,
                    notification.url,
                    attempt,
                )
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.policy.max_retry_delay)
            attempt += 1

    async def _post(
        self,
        *,
        shop_id: str,
        url: str,
        content: bytes,
        event: str | None,
        payment_id: str | None,
        object_id: str | None,
        attempt: int,
        forwarded_for: str | None,
        forged: bool,
    ) -> DeliveryAttempt:
        if self._client is None:
            raise RuntimeError("the notification dispatcher is not started")
        headers = {"Content-Type": "application/json"}
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
            shop_id=shop_id,
            url=url,
            event=event,
            payment_id=payment_id,
            object_id=object_id,
            attempt=attempt,
            started_at=started_at,
            finished_at=time.time(),
            status_code=status_code,
            error=error,
            forged=forged,
        )
        self._attempts.append(result)
        return result
