"""Webhooks in: payment providers and Telegram. Each input is written to Kafka, then 200.

The gateway checks only what is cheap (size, content type, JSON shape, a provider's
published source networks, the Telegram secret token) and writes a payment webhook's
exact bytes and headers, since signatures are over the bytes; billing and the bot do the
real verification. Anything malformed is answered 4xx with a
short reason and logged in one line. A webhook is answered 200 only after Kafka
acknowledged the write, so the sender retries anything the platform did not durably receive.
"""

from __future__ import annotations

import functools
import hmac
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import ValidationError

from chassis.messaging.ingress import IngressWriter
from contracts.gateway import ProviderNotificationReceived, TelegramUpdateReceived
from gateway.client_address import BadForwardedFor, client_address
from gateway.json_body import BadBody, parse_object
from gateway.payment_webhooks import PROVIDER_WEBHOOKS, Network, ProviderWebhook
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

WEBHOOK_REFUSALS = Counter(
    "webhook_refusals_total",
    "Webhooks the gateway refused before writing them, by route and HTTP status: a wave "
    "of them is someone probing, or a provider that changed its format",
    ["route", "status"],
)

# Never written to Kafka: a proxy's or a browser's credentials are nobody's business here.
_LEFT_OUT_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})

_UPDATES_WITH_CHAT = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "business_message",
)


def webhooks_router(ingress: IngressWriter, settings: GatewaySettings) -> APIRouter:
    router = APIRouter(prefix="/webhooks")
    trusted = settings.trusted_proxy_networks
    secret = settings.telegram_webhook_secret.get_secret_value().encode()
    check_sources = settings.check_provider_sources

    for webhook in PROVIDER_WEBHOOKS:
        router.add_api_route(
            f"/{webhook.provider}",
            functools.partial(_payment_webhook, webhook, ingress, trusted, check_sources),
            methods=["POST"],
            name=f"{webhook.provider}_webhook",
        )

    @router.post("/telegram")
    async def telegram(request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "").encode()
        if not secret or not hmac.compare_digest(given, secret):
            log.warning("rejected a Telegram update without the webhook secret")
            return Response("Unauthorized", status_code=401)
        update = await _json_object(request)
        if isinstance(update, Response):
            return update
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
            return _refuse(request, 400, "not a Telegram update", "no update_id")
        chat_id = _chat_of(update)
        if chat_id is None:
            # Telegram would redeliver a refused update for a day; there is nobody to answer.
            log.info("ignored an update without a chat", extra={"update_id": update_id})
            return JSONResponse({})
        try:
            event = TelegramUpdateReceived(
                update_id=update_id,
                chat_id=chat_id,
                update=update,
                received_at=datetime.now(UTC),
            )
        except ValidationError as exc:
            return _refuse(request, 400, "not a Telegram update", _first_error(exc))
        return await _write(ingress, event, ok_body={})

    return router


async def _payment_webhook(
    webhook: ProviderWebhook,
    ingress: IngressWriter,
    trusted: list[Network],
    check_sources: bool,
    request: Request,
) -> Response:
    peer = request.client.host if request.client else "0.0.0.0"
    try:
        remote = client_address(peer, request.headers.get("x-forwarded-for"), trusted)
    except BadForwardedFor as exc:
        return _refuse(request, 400, "unreadable X-Forwarded-For", str(exc))
    if check_sources and not webhook.from_allowed_source(remote):
        return _refuse(request, 403, f"not from {webhook.provider}'s networks", str(remote))
    raw = await _raw_json_object(request)
    if isinstance(raw, Response):
        return raw
    body, parsed = raw
    reference = webhook.reference(parsed)
    if reference is None and webhook.must_reference:
        return _refuse(request, 400, f"not a {webhook.provider} notification", f"sender {remote}")
    headers = {
        name: value
        for name, value in request.headers.items()
        if name not in _LEFT_OUT_HEADERS and len(value) <= 8192
    }
    try:
        event = ProviderNotificationReceived(
            provider=webhook.provider,
            body=body,
            headers=headers,
            reference=reference,
            received_at=datetime.now(UTC),
            remote_address=remote,
        )
    except ValidationError as exc:
        return _refuse(request, 400, f"not a {webhook.provider} notification", _first_error(exc))
    return await _write(ingress, event)


async def _write(
    ingress: IngressWriter,
    event: ProviderNotificationReceived | TelegramUpdateReceived,
    ok_body: dict[str, Any] | None = None,
) -> Response:
    try:
        await ingress.write(event)
    except Exception:
        log.exception(
            "could not write to Kafka; the sender will retry",
            extra={"event_type": event.event_type},
        )
        return _error(503, "temporarily unavailable")
    return JSONResponse(ok_body if ok_body is not None else {"status": "accepted"})


async def _raw_json_object(request: Request) -> tuple[bytes, dict[str, Any]] | Response:
    """The body's bytes and the JSON object they hold, or the 4xx answer that refuses it."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return _refuse(request, 415, "Content-Type must be application/json", content_type[:64])
    body = await request.body()
    try:
        return body, parse_object(body)
    except BadBody as exc:
        return _refuse(request, 400, str(exc), "")


async def _json_object(request: Request) -> dict[str, Any] | Response:
    """The body as a JSON object, or the 4xx answer that refuses it."""
    raw = await _raw_json_object(request)
    return raw if isinstance(raw, Response) else raw[1]


def _chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to, or the user's private chat for chat-less updates."""
    for field in _UPDATES_WITH_CHAT:
        payload = update.get(field)
        if isinstance(payload, dict) and isinstance(payload.get("chat"), dict):
            return _int(payload["chat"].get("id"))
    for payload in update.values():
        if not isinstance(payload, dict):
            continue
        message = payload.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return _int(message["chat"].get("id"))
        sender = payload.get("from")
        if isinstance(sender, dict):
            return _int(sender.get("id"))
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"[:200]


def _refuse(request: Request, status: int, reason: str, detail: str) -> JSONResponse:
    WEBHOOK_REFUSALS.labels(request.url.path.rsplit("/", 1)[-1][:32], str(status)).inc()
    log.warning(
        "refused a webhook: %s",
        reason,
        extra={
            "path": request.url.path,
            "status": status,
            "detail": detail,
            "peer": request.client.host if request.client else None,
        },
    )
    return _error(status, reason)
