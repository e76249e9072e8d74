"""Event contracts shared by every service: envelope, topic catalog, events.

Importing the package registers every event class, so ``decode`` knows all event types.
"""

__version__ = "0.1.0"

from contracts.billing import (
    CatalogPublished,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutReady,
    PaymentCanceled,
    PaymentRefunded,
    PaymentSucceeded,
    Plan,
    PlanCatalogPublished,
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionShortened,
    WalletChanged,
)
from contracts.bot import (
    CustomerEmailProvided,
    CustomerLanguageChanged,
    CustomerRegistered,
    RequestCheckout,
    RequestTopUp,
    StarsPaymentReceived,
)
from contracts.envelope import (
    ContractError,
    Envelope,
    EnvelopeError,
    Event,
    InvalidEventPayload,
    UnknownEventType,
    decode,
    decode_record,
    encode,
    event_class,
    registered_events,
)
from contracts.gateway import (
    PaymentNotificationReceived,
    ProviderNotificationReceived,
    TelegramUpdateReceived,
)
from contracts.money import CurrencyMismatchError, Money
from contracts.notifier import SendNotification
from contracts.provisioning import AccessGranted, AccessProvisioningFailed
from contracts.topics import SERVICE_SOURCES, SERVICES, TOPICS, TopicSpec, topic_by_name

__all__ = [
    "SERVICES",
    "SERVICE_SOURCES",
    "TOPICS",
    "AccessGranted",
    "AccessProvisioningFailed",
    "CatalogPublished",
    "CheckoutFailed",
    "CheckoutPaid",
    "CheckoutReady",
    "ContractError",
    "CurrencyMismatchError",
    "CustomerEmailProvided",
    "CustomerLanguageChanged",
    "CustomerRegistered",
    "Envelope",
    "EnvelopeError",
    "Event",
    "InvalidEventPayload",
    "Money",
    "PaymentCanceled",
    "PaymentNotificationReceived",
    "PaymentRefunded",
    "PaymentSucceeded",
    "Plan",
    "PlanCatalogPublished",
    "ProviderNotificationReceived",
    "RequestCheckout",
    "RequestTopUp",
    "SendNotification",
    "StarsPaymentReceived",
    "SubscriptionActivated",
    "SubscriptionExtended",
    "SubscriptionShortened",
    "TelegramUpdateReceived",
    "TopicSpec",
    "UnknownEventType",
    "WalletChanged",
    "decode",
    "decode_record",
    "encode",
    "event_class",
    "registered_events",
    "topic_by_name",
]
