"""Prometheus metrics of the chassis, labelled by service so several can share a process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OUTBOX_BACKLOG = Gauge(
    "outbox_backlog_events", "Outbox rows not yet published to Kafka", ["service"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row", ["service"]
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_events_total", "Outbox rows published to Kafka", ["service", "topic"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total", "Relay batches that failed to publish", ["service"]
)
OUTBOX_RELAY_ACTIVE = Gauge(
    "outbox_relay_active", "1 when this replica holds the relay lock", ["service"]
)
CONSUMED = Counter(
    "events_consumed_total",
    "Events taken from Kafka, by outcome (processed, rejected, duplicate, ignored, dead_lettered)",
    ["service", "event_type", "outcome"],
)
HANDLE_SECONDS = Histogram(
    "event_handle_seconds",
    "Time to handle one consumed batch inside its database transaction",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CONSUMER_BATCH_FAILURES = Counter(
    "consumer_batch_failures_total",
    "Batches rolled back and redelivered because of a transient failure",
    ["service"],
)
WORK_OUTCOMES = Counter(
    "work_items_total",
    "Calls to third parties made by background workers, by outcome "
    "(done, retry, failed, uncertain)",
    ["service", "work", "outcome"],
)
