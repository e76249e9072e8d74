"""Events and commands produced by the bot."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from contracts.envelope import Event
from contracts.fields import (
    HttpUrl,
    LanguageTag,
    PlanId,
    ProviderName,
    TelegramId,
    UtcDatetime,
)
from contracts.topics import BOT_CHECKOUTS, BOT_CUSTOMERS


class CustomerRegistered(Event):
    """A Telegram user started the bot for the first time and became a customer.

    Emitted by the bot once per customer. Consumed by billing (customers, referrals),
    the notifier (contact and language) and the gateway (read models).
    """

    event_type = "bot.customer.registered.v1"
    topic = BOT_CUSTOMERS

    customer_id: UUID = Field(description="Platform-wide customer id, assigned by the bot.")
    telegram_user_id: TelegramId = Field(gt=0, description="Telegram user id of the customer.")
    chat_id: TelegramId = Field(description="Private chat between the bot and the customer.")
    language: LanguageTag = Field(
        description="Language of every user-facing text for the customer."
    )
    referral_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Referral code from the /start deep link, as received; absent without one.",
    )
    registered_at: UtcDatetime = Field(description="When the customer first started the bot.")

    def key(self) -> str:
        return str(self.customer_id)


class CustomerLanguageChanged(Event):
    """A customer switched the language the platform speaks to them in.

    Emitted by the bot when the customer picks another language. Consumed by the notifier,
    which renders every later message in it.
    """

    event_type = "bot.customer.language_changed.v1"
    topic = BOT_CUSTOMERS

    customer_id: UUID = Field(description="The customer.")
    language: LanguageTag = Field(description="The language chosen from now on.")
    changed_at: UtcDatetime = Field(description="When the customer chose it.")

    def key(self) -> str:
        return str(self.customer_id)


class RequestCheckout(Event):
    """The customer chose a plan and a payment provider: billing, make a payment link.

    Command from the bot to billing, which answers on ``billing.checkouts.v1`` with
    ``CheckoutReady`` or ``CheckoutFailed`` carrying the same ``checkout_id``.
    """

    event_type = "bot.checkout.requested.v1"
    topic = BOT_CHECKOUTS

    checkout_id: UUID = Field(
        description=(
            "Chosen by the requester; correlates the answer and is the idempotency key all the "
            "way to the payment provider: the same id never creates a second payment."
        )
    )
    customer_id: UUID = Field(description="The paying customer.")
    plan_id: PlanId = Field(description="Plan from the catalog the customer wants to buy.")
    provider: ProviderName
    return_url: HttpUrl | None = Field(
        default=None,
        description="Where the provider sends the customer after paying; its default if absent.",
    )
    requested_at: UtcDatetime = Field(description="When the customer asked to pay.")

    def key(self) -> str:
        return str(self.checkout_id)
