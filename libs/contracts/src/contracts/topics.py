"""The Kafka topic catalog, the service names and the dead-letter header names.

Topics are named ``<producing service>.<stream>.v<N>``. The one exception to "named by the
producer" is ``notifier.requests.v1``: it is the notifier's inbox, written by any service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

ServiceName = Literal["bot", "billing", "provisioning", "notifier", "gateway"]

SERVICES: Final[tuple[ServiceName, ...]] = ("bot", "billing", "provisioning", "notifier", "gateway")
"""The five services, each owning its database and its topics."""

SERVICE_SOURCES: Final[dict[ServiceName, str]] = {
    service: f"/vpn/{service}" for service in SERVICES
}
"""CloudEvents ``source`` (a URI-reference) each service stamps on the events it produces."""

TOPIC_NAME_PATTERN: Final = re.compile(
    r"^(?P<service>"
    + "|".join(SERVICES)
    + r")\.(?P<stream>[a-z][a-z0-9-]*)\.v(?P<version>[1-9][0-9]*)$"
)

_DAY_MS: Final = 24 * 60 * 60 * 1000
STREAM_RETENTION_MS: Final = 7 * _DAY_MS
"""Ordinary streams: consumers keep their own state, a week covers any outage worth replaying."""
DEADLETTER_RETENTION_MS: Final = 30 * _DAY_MS
"""Dead letters wait for a human, who may be on holiday."""

CleanupPolicy = Literal["delete", "compact"]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One Kafka topic: how it is configured and what its records are keyed by."""

    name: str
    partitions: int
    cleanup_policy: CleanupPolicy
    retention_ms: int | None
    key: str
    description: str

    def __post_init__(self) -> None:
        if TOPIC_NAME_PATTERN.fullmatch(self.name) is None:
            raise ValueError(f"topic name {self.name!r} does not match <service>.<stream>.v<N>")
        if self.partitions < 1:
            raise ValueError(f"topic {self.name}: partitions must be at least 1")
        if self.cleanup_policy == "compact" and self.retention_ms is not None:
            raise ValueError(f"topic {self.name}: a compacted topic keeps the latest value forever")
        if self.cleanup_policy == "delete" and (
            self.retention_ms is None or self.retention_ms <= 0
        ):
            raise ValueError(f"topic {self.name}: a delete-policy topic needs a positive retention")
        if not self.key.strip() or not self.description.strip():
            raise ValueError(f"topic {self.name}: key and description must be documented")

    @property
    def service(self) -> ServiceName:
        """The service that owns (and, except for the notifier inbox, produces to) the topic."""
        return next(service for service in SERVICES if self.name.startswith(f"{service}."))

    @property
    def config(self) -> dict[str, str]:
        """Topic-level Kafka configuration, as given to the admin client on creation."""
        config: dict[str, str] = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        return config


BOT_CUSTOMERS: Final = TopicSpec(
    name="bot.customers.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="customer id (UUID)",
    description="Facts about customers as the bot knows them: registration, language.",
)
BOT_CHECKOUTS: Final = TopicSpec(
    name="bot.checkouts.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="checkout id (UUID, chosen by the bot)",
    description="Checkout commands from the bot to billing.",
)
BOT_PAYMENTS: Final = TopicSpec(
    name="bot.payments.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="Telegram payment charge id",
    description="Telegram Stars payments and refunds as Telegram reported them to the bot.",
)
BOT_PROMOS: Final = TopicSpec(
    name="bot.promos.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="customer id (UUID)",
    description="Promotions customers ask for in the bot: promo codes typed, trials.",
)
BILLING_CATALOG: Final = TopicSpec(
    name="billing.catalog.v1",
    partitions=1,
    cleanup_policy="compact",
    retention_ms=None,
    key='"catalog" (v1) or "catalog.v2": compaction keeps the latest full catalog of each',
    description="Snapshots of the plan catalog; other services mirror the latest one locally.",
)
BILLING_CHECKOUTS: Final = TopicSpec(
    name="billing.checkouts.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="checkout id (UUID), the one the requester chose",
    description="Answers to checkout commands: a payment link, or why there is none.",
)
BILLING_PAYMENTS: Final = TopicSpec(
    name="billing.payments.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="order id (UUID)",
    description="Verified outcomes of payments: succeeded, canceled, refunded.",
)
BILLING_SUBSCRIPTIONS: Final = TopicSpec(
    name="billing.subscriptions.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="subscription id (UUID)",
    description="What each customer has paid for: subscription periods and traffic limits.",
)
BILLING_WALLETS: Final = TopicSpec(
    name="billing.wallets.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="customer id (UUID)",
    description="Every change of a customer's wallet balance, in order per customer.",
)
BILLING_AUTOPAY: Final = TopicSpec(
    name="billing.autopay.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="customer id (UUID)",
    description="Each customer's automatic renewal: turned on, rescheduled, turned off.",
)
BILLING_PROMOS: Final = TopicSpec(
    name="billing.promos.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="customer id (UUID)",
    description="What billing decided about a promo code entered or a trial asked for.",
)
BILLING_SEGMENTS: Final = TopicSpec(
    name="billing.segments.v1",
    partitions=6,
    cleanup_policy="compact",
    retention_ms=None,
    key="customer id (UUID): compaction keeps each customer's latest segments",
    description="Each customer's segments (active, expiring, churned, language, region, ...).",
)
PROVISIONING_CATALOG: Final = TopicSpec(
    name="provisioning.catalog.v1",
    partitions=1,
    cleanup_policy="compact",
    retention_ms=None,
    key='"regions": compaction keeps the latest full list of regions',
    description="Snapshots of the regions customers can choose; the bot mirrors the latest.",
)
PROVISIONING_PANELS: Final = TopicSpec(
    name="provisioning.panels.v1",
    partitions=3,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="panel id",
    description="What provisioning learns of its panels: health changes, drift repaired.",
)
PROVISIONING_ACCESS: Final = TopicSpec(
    name="provisioning.access.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="subscription id (UUID)",
    description="VPN access on the panels: granted, failed to provision, or changed there.",
)
PROVISIONING_USAGE: Final = TopicSpec(
    name="provisioning.usage.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="panel id (each record is a batch of one panel's users)",
    description="Traffic used on the panels, in batches: what changed since the last look.",
)
NOTIFIER_REQUESTS: Final = TopicSpec(
    name="notifier.requests.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    # Keyed by customer, not by notification, so that one customer's messages arrive in order.
    key="customer id (UUID) of the recipient",
    description="Notification commands addressed to the notifier by any service.",
)
GATEWAY_PAYMENT_NOTIFICATIONS: Final = TopicSpec(
    name="gateway.payment-notifications.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="provider payment id, as the provider spells it",
    description="Raw payment-provider webhooks, written before the gateway answers 200.",
)
GATEWAY_TELEGRAM_UPDATES: Final = TopicSpec(
    name="gateway.telegram-updates.v1",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=STREAM_RETENTION_MS,
    key="Telegram chat id (decimal integer)",
    description="Raw Telegram updates from the webhook, in order per chat.",
)


def deadletter_topic_name(service: ServiceName) -> str:
    """Name of the dead-letter topic of ``service``."""
    return f"{service}.deadletter.v1"


def _deadletter(service: ServiceName) -> TopicSpec:
    return TopicSpec(
        name=deadletter_topic_name(service),
        partitions=1,
        cleanup_policy="delete",
        retention_ms=DEADLETTER_RETENTION_MS,
        key="the original record's key",
        description=(
            f"Records the {service} service's consumers gave up on: the original value bytes, "
            "the original headers plus the dlq_* headers. Replayable to the original topic."
        ),
    )


DEADLETTER_TOPICS: Final[dict[ServiceName, TopicSpec]] = {
    service: _deadletter(service) for service in SERVICES
}

TOPICS: Final[tuple[TopicSpec, ...]] = (
    BOT_CUSTOMERS,
    BOT_CHECKOUTS,
    BOT_PAYMENTS,
    BOT_PROMOS,
    BILLING_CATALOG,
    BILLING_CHECKOUTS,
    BILLING_PAYMENTS,
    BILLING_SUBSCRIPTIONS,
    BILLING_WALLETS,
    BILLING_AUTOPAY,
    BILLING_PROMOS,
    BILLING_SEGMENTS,
    PROVISIONING_CATALOG,
    PROVISIONING_PANELS,
    PROVISIONING_ACCESS,
    PROVISIONING_USAGE,
    NOTIFIER_REQUESTS,
    GATEWAY_PAYMENT_NOTIFICATIONS,
    GATEWAY_TELEGRAM_UPDATES,
    *DEADLETTER_TOPICS.values(),
)
"""Every topic of the platform."""

_BY_NAME: Final[dict[str, TopicSpec]] = {topic.name: topic for topic in TOPICS}


def topic_by_name(name: str) -> TopicSpec:
    """The catalog entry for ``name``; raises ``KeyError`` for a topic not in the catalog."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"topic {name!r} is not in the contracts topic catalog") from None


# Headers a dead-letter record carries besides the original record's headers. Values are
# UTF-8 strings; numbers are decimal.
DLQ_ERROR: Final = "dlq_error"
"""Error message of the last failure, truncated to a few KiB."""
DLQ_ERROR_TYPE: Final = "dlq_error_type"
"""Qualified class name of the exception, e.g. ``contracts.envelope.InvalidEventPayload``."""
DLQ_ORIGINAL_TOPIC: Final = "dlq_original_topic"
"""Topic the record was consumed from; replay writes it back there."""
DLQ_ORIGINAL_PARTITION: Final = "dlq_original_partition"
"""Partition the record was consumed from."""
DLQ_ORIGINAL_OFFSET: Final = "dlq_original_offset"
"""Offset of the record in its original partition."""
DLQ_CONSUMER: Final = "dlq_consumer"
"""Consumer group (and handler, when a group has several) that gave up."""
DLQ_FAILED_AT: Final = "dlq_failed_at"
"""When the consumer gave up, RFC 3339 in UTC."""

DLQ_HEADERS: Final[tuple[str, ...]] = (
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_ORIGINAL_TOPIC,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_OFFSET,
    DLQ_CONSUMER,
    DLQ_FAILED_AT,
)
"""Every dead-letter header name."""
