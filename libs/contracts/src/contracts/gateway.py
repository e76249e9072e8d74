"""Ingress events produced by the gateway: raw inputs from the outside world."""

from __future__ import annotations

from pydantic import Field, IPvAnyAddress, JsonValue

from contracts.envelope import Event
from contracts.fields import ProviderName, ProviderPaymentId, TelegramId, UtcDatetime
from contracts.topics import GATEWAY_PAYMENT_NOTIFICATIONS, GATEWAY_TELEGRAM_UPDATES


class PaymentNotificationReceived(Event):
    """A payment provider posted a notification (webhook) to the gateway.

    Emitted by the gateway before it answers the provider, after the cheap checks (source
    address, signature where there is one). Not yet trusted: billing, its consumer,
    verifies it with the provider before acting.
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
