"""Events and commands produced by the bot."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Annotated, Final, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.envelope import Event
from contracts.fields import (
    HttpUrl,
    LanguageTag,
    PlanId,
    PromoCodeText,
    ProviderName,
    RegionId,
    TelegramId,
    UtcDatetime,
    VpnProtocol,
)
from contracts.money import CurrencyCode, Money
from contracts.topics import BOT_CHECKOUTS, BOT_CUSTOMERS, BOT_PAYMENTS, BOT_PROMOS


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


EmailAddress = Annotated[
    str,
    Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class CustomerEmailProvided(Event):
    """A customer gave the e-mail their 54-FZ receipts are sent to.

    Emitted by the bot when the customer types a valid address (asked once, before the
    first payment that needs a receipt). Consumed by billing, which puts it on receipts.
    """

    event_type = "bot.customer.email_provided.v1"
    topic = BOT_CUSTOMERS

    customer_id: UUID = Field(description="The customer.")
    email: EmailAddress = Field(
        description="The address as the customer typed it, the domain lowercased."
    )
    provided_at: UtcDatetime = Field(description="When the customer gave it.")

    def key(self) -> str:
        return str(self.customer_id)


class AutopayConsent(BaseModel):
    """What the customer agreed to when they chose to renew automatically: the consent log's
    record (YooKassa's rules and 376-FZ want the amount, the period and how to cancel shown
    first, and the consent kept)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    terms_version: str = Field(
        min_length=1,
        max_length=64,
        description="Version of the consent text shown; it changes whenever the text does.",
    )
    language: LanguageTag = Field(description="The language the text was shown in.")
    amount: Money = Field(description="The amount each renewal charges, as shown.")
    period_days: int = Field(strict=True, ge=1, description="How often, in days, as shown.")
    period_months: int = Field(
        default=0,
        strict=True,
        ge=0,
        description="How often, in calendar months, as shown (a month plan); 0: in days.",
    )
    consented_at: UtcDatetime = Field(description="When the customer pressed to agree.")


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
    currency: CurrencyCode | None = Field(
        default=None,
        description=(
            "Which of the plan's prices the customer chose (the one the method showed); "
            "absent: the first the provider takes."
        ),
    )
    quote_id: UUID | None = Field(
        default=None,
        description=(
            "The quote whose price the customer was shown (`CatalogPublished.quote_for`). "
            "Billing charges exactly its price, or refuses it (`quote_stale`: no longer "
            "offered, the price changed; `quote_invalid`: never offered to this customer for "
            "this plan). Absent: the price billing offers the customer now."
        ),
    )
    region: RegionId | None = Field(
        default=None,
        description=(
            "The region the customer chose to be served from (`RegionsPublished`); absent: "
            "provisioning's default region. Used for a new subscription only."
        ),
    )
    protocol: VpnProtocol | None = Field(
        default=None,
        description=(
            "The protocol the customer chose among the region's (`RegionOffer.protocols`); "
            "absent: every protocol of the panel. Used for a new subscription only."
        ),
    )
    save_payment_method: bool = Field(
        default=False,
        description=(
            "The customer consented to automatic renewals with this payment's method, after "
            "being shown the amount, the period and how to cancel (`autopay_consent`)."
        ),
    )
    autopay_consent: AutopayConsent | None = Field(
        default=None,
        description="What was shown and agreed to; present exactly when `save_payment_method`.",
    )

    receipt_email: EmailAddress | None = Field(
        default=None,
        description=(
            "Where the 54-FZ receipt goes, when the method needs one (the bot asked for it "
            "before); billing refuses such a checkout without it (`email_required`)."
        ),
    )
    promo_code: PromoCodeText | None = Field(
        default=None,
        description=(
            "A code the customer entered before paying (billing accepted it then): billing "
            "checks it again and takes one of its uses with the order, or refuses the "
            "checkout with a `promo_*` reason."
        ),
    )

    @model_validator(mode="after")
    def _consent_saves(self) -> Self:
        if self.save_payment_method != (self.autopay_consent is not None):
            raise ValueError("save_payment_method goes with an autopay_consent, and only with one")
        return self

    def key(self) -> str:
        return str(self.checkout_id)


class AccessChangeRequested(Event):
    """A subscriber asked, from "My subscription", to be served from another region or
    with another protocol: provisioning, move them.

    Command from the bot (which offered only regions available then, and protocols the
    region offers) to provisioning, which places the subscription on a panel of the region
    (offering the protocol) and, once the new user is live, disables the old one; the
    customer receives the new access as ``AccessGranted``. Nothing else is answered: a
    region that cannot take them by then is logged and the subscription stays where it is.
    """

    event_type = "bot.access.change_requested.v1"
    topic = BOT_CUSTOMERS

    request_id: UUID = Field(description="Chosen by the bot; for logs and deduplication.")
    customer_id: UUID = Field(description="The subscriber.")
    subscription_id: UUID = Field(description="The subscription whose access moves.")
    region: RegionId | None = Field(
        default=None, description="The region to be served from; absent: the current one."
    )
    protocol: VpnProtocol | None = Field(
        default=None,
        description="The protocol to be served with; absent: the one chosen before (if any).",
    )
    requested_at: UtcDatetime = Field(description="When the customer pressed.")

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.region is None and self.protocol is None:
            raise ValueError("a change names a region, a protocol or both")
        return self

    def key(self) -> str:
        return str(self.customer_id)


class RequestTrafficPack(Event):
    """The customer chose extra traffic for their subscription's current period and a way
    to pay: billing, make a payment link.

    Command from the bot to billing, answered like ``RequestCheckout`` on
    ``billing.checkouts.v1`` with the same ``checkout_id``; refused without a subscription
    with paid time ahead and a traffic limit (`traffic_needs_subscription`), or on a plan
    whose allowance resets monthly (`traffic_not_for_plan`).
    """

    event_type = "bot.traffic_pack.requested.v1"
    topic = BOT_CHECKOUTS

    checkout_id: UUID = Field(description="Chosen by the requester; the idempotency key.")
    customer_id: UUID = Field(description="The subscriber.")
    pack_id: PlanId = Field(description="Traffic pack from the catalog.")
    provider: ProviderName
    currency: CurrencyCode | None = Field(
        default=None, description="Which of the pack's prices; absent: the first taken."
    )
    return_url: HttpUrl | None = Field(default=None, description="As for a checkout.")
    requested_at: UtcDatetime = Field(description="When the customer asked to pay.")
    receipt_email: EmailAddress | None = Field(
        default=None, description="As for a checkout: for a method that needs a receipt."
    )

    def key(self) -> str:
        return str(self.checkout_id)


class RequestTopUp(Event):
    """The customer chose a wallet top-up and a way to pay: billing, make a payment link.

    Command from the bot to billing, answered like ``RequestCheckout`` on
    ``billing.checkouts.v1`` with the same ``checkout_id``.
    """

    event_type = "bot.topup.requested.v1"
    topic = BOT_CHECKOUTS

    checkout_id: UUID = Field(description="Chosen by the requester; the idempotency key.")
    customer_id: UUID = Field(description="The customer whose wallet is topped up.")
    topup_id: PlanId = Field(description="Top-up from the catalog.")
    provider: ProviderName
    currency: CurrencyCode | None = Field(
        default=None, description="Which of the top-up's prices; absent: the first taken."
    )
    return_url: HttpUrl | None = Field(default=None, description="As for a checkout.")
    requested_at: UtcDatetime = Field(description="When the customer asked to pay.")
    receipt_email: EmailAddress | None = Field(
        default=None,
        description=(
            "Where the 54-FZ receipt goes, when the method needs one (the bot asked for it "
            "before); billing refuses such a checkout without it (`email_required`)."
        ),
    )

    def key(self) -> str:
        return str(self.checkout_id)


class StarsPaymentReceived(Event):
    """Telegram told the bot that a customer paid in Stars, or that a payment was refunded.

    Emitted by the bot for each ``successful_payment`` and ``refunded_payment`` service
    message, as Telegram sent it (the update came through the secret-checked webhook or
    the bot's own long poll). Consumed by billing, which settles the order once per charge.
    """

    event_type = "bot.stars_payment.received.v1"
    topic = BOT_PAYMENTS

    kind: Literal["payment", "refund"] = Field(
        description="`payment` for `successful_payment`, `refund` for `refunded_payment`."
    )
    telegram_payment_charge_id: str = Field(
        min_length=1,
        max_length=256,
        description="Telegram's id of the charge, unique per charge (often over 128 characters).",
    )
    invoice_payload: str = Field(
        min_length=1, max_length=128, description="The payload billing put into the invoice."
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="Always `XTR` for Stars.")
    total_amount: int = Field(strict=True, ge=1, description="Stars paid (or refunded).")
    telegram_user_id: TelegramId = Field(gt=0, description="Who paid.")
    customer_id: UUID | None = Field(
        default=None, description="The customer, when the bot knows the payer as one."
    )
    is_recurring: bool = Field(default=False, description="A subscription payment.")
    is_first_recurring: bool = Field(default=False, description="A subscription's first payment.")
    subscription_expiration_date: UtcDatetime | None = Field(
        default=None, description="Until when a subscription payment paid."
    )
    update_id: int = Field(strict=True, ge=0, description="The update that carried it.")
    received_at: UtcDatetime = Field(description="When the bot received the update.")

    def key(self) -> str:
        return self.telegram_payment_charge_id


class AutopayTurnedOff(Event):
    """The customer turned automatic renewal off in the bot: the saved payment method must
    not be charged again (376-FZ), from the moment billing records this.

    Emitted by the bot when the customer presses "turn off autopay". Consumed by billing,
    which forgets the method and cancels any charge not yet sent to the provider.
    """

    event_type = "bot.customer.autopay_turned_off.v1"
    topic = BOT_CUSTOMERS

    customer_id: UUID = Field(description="The customer.")
    turned_off_at: UtcDatetime = Field(description="When the customer pressed the button.")

    def key(self) -> str:
        return str(self.customer_id)


class CustomerRemindersChanged(Event):
    """A customer turned the reminders about their subscription's end off, or on again.

    Emitted by the bot from its settings screen. Consumed by the notifier, which then
    skips (or sends again) those reminders; payment, access and autopay notices are sent
    whatever this says.
    """

    event_type = "bot.customer.reminders_changed.v1"
    topic = BOT_CUSTOMERS

    customer_id: UUID = Field(description="The customer.")
    reminders: bool = Field(description="Whether reminders are sent from now on.")
    changed_at: UtcDatetime = Field(description="When the customer chose it.")

    def key(self) -> str:
        return str(self.customer_id)


class PromoCodeEntered(Event):
    """A customer typed a promo code in the bot: billing, check it (or apply it).

    Command from the bot to billing, which answers with ``PromoCodeChecked`` (same
    ``request_id``) and tells the customer through the notifier. A code for free days is
    applied at once; one for a discount or extra traffic is accepted for the customer's
    next purchase, which names it (``RequestCheckout.promo_code``).
    """

    event_type = "bot.promo.entered.v1"
    topic = BOT_PROMOS

    request_id: UUID = Field(description="Chosen by the bot; the answer carries it.")
    customer_id: UUID = Field(description="Who typed it.")
    code: PromoCodeText
    entered_at: UtcDatetime = Field(description="When the customer sent it.")

    def key(self) -> str:
        return str(self.customer_id)


class TrialRequested(Event):
    """A customer asked for the free trial in the bot: billing, start it or say why not.

    Command from the bot to billing, which answers with ``TrialDecided`` (same
    ``request_id``); a started trial's access reaches the customer like a paid one's.
    """

    event_type = "bot.trial.requested.v1"
    topic = BOT_PROMOS

    request_id: UUID = Field(description="Chosen by the bot; the answer carries it.")
    customer_id: UUID = Field(description="Who asked.")
    telegram_user_id: TelegramId = Field(
        gt=0, description="Their Telegram account: a trial is once per account."
    )
    requested_at: UtcDatetime = Field(description="When the customer pressed.")

    def key(self) -> str:
        return str(self.customer_id)


REFERRAL_CODE: Final = re.compile(r"r[a-z2-7]{11}")
"""What ``referral_code_for`` makes: a start parameter of this shape is a referral link."""


def referral_code_for(customer_id: UUID) -> str:
    """A customer's own referral code, the payload of their link ``t.me/<bot>?start=<code>``:
    the same wherever it is computed (the bot shows it, billing finds the referrer by it),
    12 characters Telegram allows in a start parameter."""
    digest = hashlib.sha256(b"referral:" + customer_id.bytes).digest()
    return "r" + base64.b32encode(digest).decode().lower()[:11]


def catalog_callback() -> str:
    """The bot's callback data for "show the plans" (the main menu's "Buy" button), for
    messages other services send as the bot."""
    return "m:buy"


def choose_plan_callback(plan_id: str) -> str:
    """The bot's callback data for "show this plan and its ways to pay".

    Messages other services send as the bot (the notifier's reminders) carry it on a
    "Renew" button: the press reaches the bot, which opens that plan's checkout in place.
    """
    return f"plan:{plan_id}"
