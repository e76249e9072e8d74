"""Webhook delivery: one POST per update, in order within each delivery group, retried with
backoff until it expires. Runs as background tasks for the life of the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import httpx

from sandbox.telegram.botapi import UrlFetcher, call_method
from sandbox.telegram.emulator import BotState, TelegramEmulator, Webhook
from sandbox.telegram.errors import BotApiError
from sandbox.telegram.updates import DeliveryGroup, QueuedUpdate, UpdateQueue, retry_delay
from sandbox.telegram.wire import parse_params

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
DELIVERY_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# Methods a webhook reply may not call (the server ignores them).
_IGNORED_REPLY_METHODS = frozenset({"setwebhook", "deletewebhook", "close", "logout"})


class WebhookSender:
    def __init__(
        self,
        emulator: TelegramEmulator,
        client: httpx.AsyncClient,
        fetch_url: UrlFetcher,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._emulator = emulator
        self._client = client
        self._fetch_url = fetch_url
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._workers: dict[int, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Keeps one worker per bot that has a webhook; returns only when cancelled."""
        wake = asyncio.Event()
        unsubscribe = self._emulator.webhooks_changed.subscribe(wake.set)
        try:
            while True:
                wake.clear()
                for bot in self._emulator.bots():
                    worker = self._workers.get(bot.id)
                    if bot.webhook is not None and (worker is None or worker.done()):
                        self._workers[bot.id] = asyncio.create_task(
                            self._serve(bot), name=f"telegram-webhook-{bot.id}"
                        )
                await wake.wait()
        finally:
            unsubscribe()
            for worker in self._workers.values():
                worker.cancel()
            for worker in self._workers.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    async def _serve(self, bot: BotState) -> None:
        """Delivers ``bot``'s updates until its webhook is removed."""
        wake = asyncio.Event()
        in_flight: dict[DeliveryGroup, asyncio.Task[None]] = {}
        watched: UpdateQueue | None = None
        unsubscribe_updates = None
        unsubscribe_changes = self._emulator.webhooks_changed.subscribe(wake.set)
        try:
            while (webhook := bot.webhook) is not None:
                wake.clear()
                if bot.updates is not watched:  # a reset gives the bot a new queue
                    if unsubscribe_updates is not None:
                        unsubscribe_updates()
                    watched = bot.updates
                    unsubscribe_updates = watched.arrived.subscribe(wake.set)
                self._start_deliveries(bot, webhook, in_flight, wake)
                await self._sleep_until_next_retry(bot, wake)
        finally:
            unsubscribe_changes()
            if unsubscribe_updates is not None:
                unsubscribe_updates()
            for task in in_flight.values():
                task.cancel()

    def _start_deliveries(
        self,
        bot: BotState,
        webhook: Webhook,
        in_flight: dict[DeliveryGroup, asyncio.Task[None]],
        wake: asyncio.Event,
    ) -> None:
        for group in [group for group, task in in_flight.items() if task.done()]:
            del in_flight[group]
        bot.updates.drop_expired(self._emulator.now())
        room = webhook.max_connections - len(in_flight)
        now = self._emulator.monotonic()
        for update in bot.updates.deliverable(now, set(in_flight), room):
            update.in_flight = True
            task = asyncio.create_task(self._deliver(bot, webhook, update))
            task.add_done_callback(lambda _: wake.set())
            in_flight[update.group] = task

    async def _sleep_until_next_retry(self, bot: BotState, wake: asyncio.Event) -> None:
        retry_at = bot.updates.next_retry_at()
        now = self._emulator.monotonic()
        timeout = retry_at - now if retry_at is not None and retry_at > now else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    async def _deliver(self, bot: BotState, webhook: Webhook, update: QueuedUpdate) -> None:
        try:
            response = await self._post(webhook, update)
        except httpx.HTTPError as error:
            self._failed(bot, update, _connection_error_text(error), None)
            return
        finally:
            update.in_flight = False
        if not response.is_success:
            message = (
                f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
            )
            self._failed(bot, update, message, _retry_after(response))
            return
        bot.updates.delivered(update)
        await self._run_reply_method(bot, response)

    async def _post(self, webhook: Webhook, update: QueuedUpdate) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers[SECRET_HEADER] = webhook.secret_token
        return await self._client.post(
            webhook.url,
            content=update.to_json().encode(),
            headers=headers,
            timeout=DELIVERY_TIMEOUT,
        )

    def _failed(
        self, bot: BotState, update: QueuedUpdate, message: str, retry_after: float | None
    ) -> None:
        update.failures += 1
        delay = retry_delay(update.failures, retry_after, cap=self._rng.uniform(60.0, 120.0))
        update.retry_at = self._emulator.monotonic() + delay
        self._emulator.record_webhook_error(bot, message)
        log.info("webhook delivery of update %s failed: %s", update.update_id, message)

    async def _run_reply_method(self, bot: BotState, response: httpx.Response) -> None:
        """A 2xx reply may carry one Bot API call; its result goes nowhere, as in Telegram."""
        content_type = response.headers.get("content-type", "")
        if not response.content or not content_type:
            return
        try:
            params = parse_params("", content_type, "", response.content)
        except BotApiError:
            return
        method = params.text("method").lower()
        if not method or method.startswith("get") or method in _IGNORED_REPLY_METHODS:
            return
        try:
            await call_method(self._emulator, bot, method, params, self._fetch_url)
        except BotApiError as error:
            log.info("webhook reply method %s failed: %s", method, error.description)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def _connection_error_text(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return "Connection timed out"
    if isinstance(error, httpx.ConnectError):
        return "Connection refused"
    if isinstance(error, httpx.TimeoutException):
        return "Read timeout expired"
    return f"Failed to send the request: {type(error).__name__}"
