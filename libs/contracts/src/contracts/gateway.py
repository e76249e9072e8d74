"""Ingress events produced by the gateway: raw inputs from the outside world."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AfterValidator, ConfigDict, Field, IPvAnyAddress, JsonValue, StringConstraints

from contracts.envelope import Event
from contracts.fields import ProviderName, ProviderPaymentId, TelegramId, UtcDatetime
from contracts.topics import GATEWAY_PAYMENT_NOTIFICATIONS, GATEWAY_TELEGRAM_UPDATES

HeaderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9!#$%&'*+.^_`|~-]{1,128}$")]


class PaymentNotificationReceived(Event):
    """A payment provider posted a notification (webhook) to the gateway.

    Superseded by ``gateway.payment_notification.received.v2``, which carries the body's
    exact bytes and the headers (signatures are over the bytes). Billing still reads v1
    records written before an upgrade. Not trusted: billing verifies it before acting.
    """

    event_type = "gateway.payment_notification.received.v1"
    topic = GATEWAY_PAYMENT_NOTIFICATIONS

    provider: ProviderName
    provider_payment_id: ProviderPaymentId
    body: dict[str, JsonValue] = Field(description="The notification body as the provider sent it.")
    received_at: UtcDatetime = Field(description="When the gateway received the request.")
    remote_address: IPvAnyAddress = Field(
        description="Client address of the request, from the trusted proxy's X-Forwarded-For."
    )

    def key(self) -> str:
        return self.provider_payment_id


MAX_NOTIFICATION_BYTES: Final = 262_144
"""The largest webhook body the gateway accepts (its ``HTTP_MAX_BODY_BYTES`` default)."""


def _at_most_max_notification_bytes(body: bytes) -> bytes:
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise ValueError(f"a notification body is at most {MAX_NOTIFICATION_BYTES} bytes")
    return body


class ProviderNotificationReceived(Event):
    """A payment provider posted a notification (webhook) to the gateway, exactly as sent.

    Emitted by the gateway before it answers the provider, after only the cheap checks
    (size, content type, the provider's source networks where it publishes them). Not yet
    trusted: billing verifies the signature over ``body`` (or asks the provider) before
    acting on anything in it.
    """

    event_type = "gateway.payment_notification.received.v2"
    topic = GATEWAY_PAYMENT_NOTIFICATIONS

    provider: ProviderName
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    body: Annotated[bytes, AfterValidator(_at_most_max_notification_bytes)] = Field(
        description=(
            "The request body's bytes as received, at most 256 KiB; in JSON, URL-safe "
            "base64 (RFC 4648 §5)."
        ),
    )
    headers: dict[HeaderName, Annotated[str, StringConstraints(max_length=8192)]] = Field(
        description=(
            "Request headers as received, names lowercased; cookies and credentials left out."
        )
    )
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description=(
            "The provider's id of the payment as the body claims it (unverified): the key, so "
            "that notifications about one payment stay in order."
        ),
    )
    received_at: UtcDatetime = Field(description="When the gateway received the request.")
    remote_address: IPvAnyAddress = Field(
        description="Client address of the request, from the trusted proxy's X-Forwarded-For."
    )

    def key(self) -> str:
        return f"{self.provider}:{self.reference or 'unreferenced'}"


class TelegramUpdateReceived(Event):
    """Telegram delivered an update to the bot's webhook at the gateway.

    Emitted by the gateway after checking the webhook secret token. Consumed by the bot,
    whose replicas share the partitions while each chat keeps its order.
    """

    event_type = "gateway.telegram_update.received.v1"
    topic = GATEWAY_TELEGRAM_UPDATES

    update_id: int = Field(strict=True, ge=0, description="Telegram's `update_id`.")
    chat_id: TelegramId = Field(
        description=(
            "Chat the update belongs to; for updates without a chat (inline or pre-checkout "
            "queries) the id of the user who caused it, which is their private chat id."
        )
    )
    update: dict[str, JsonValue] = Field(description="The Update object as Telegram sent it.")
    received_at: UtcDatetime = Field(description="When the gateway received the request.")

    def key(self) -> str:
        return str(self.chat_id)
