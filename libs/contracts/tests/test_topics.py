from __future__ import annotations

import re

import pytest

from contracts.schemas import contract_events
from contracts.topics import (
    DEADLETTER_TOPICS,
    DLQ_HEADERS,
    SERVICE_SOURCES,
    SERVICES,
    TOPICS,
    TopicSpec,
    topic_by_name,
)

NAME = re.compile(r"^(bot|billing|provisioning|notifier|gateway)\.[a-z][a-z0-9-]*\.v[1-9][0-9]*$")


def test_every_event_topic_is_in_the_catalog() -> None:
    for cls in contract_events():
        assert cls.topic in TOPICS, f"{cls.event_type} uses {cls.topic.name}, not in TOPICS"
        assert topic_by_name(cls.topic.name) is cls.topic


def test_names_are_unique_and_well_formed() -> None:
    names = [topic.name for topic in TOPICS]
    assert len(names) == len(set(names))
    for name in names:
        assert NAME.fullmatch(name), name


def test_keys_and_descriptions_are_documented() -> None:
    for topic in TOPICS:
        assert topic.key.strip(), topic.name
        assert topic.description.strip(), topic.name


def test_every_topic_but_the_dead_letters_carries_contract_events() -> None:
    used = {cls.topic.name for cls in contract_events()}
    for topic in TOPICS:
        if topic.name.endswith(".deadletter.v1"):
            continue
        assert topic.name in used, f"{topic.name} has no event"


def test_events_live_on_a_topic_of_their_own_domain() -> None:
    for cls in contract_events():
        assert cls.event_type.split(".")[0] == cls.topic.service, cls.event_type


def test_one_dead_letter_topic_per_service() -> None:
    assert set(DEADLETTER_TOPICS) == set(SERVICES)
    for service, topic in DEADLETTER_TOPICS.items():
        assert topic.name == f"{service}.deadletter.v1"
        assert topic in TOPICS
        assert topic.retention_ms is not None
        assert topic.retention_ms >= 30 * 24 * 3600 * 1000


def test_catalog_topic_is_compacted() -> None:
    catalog = topic_by_name("billing.catalog.v1")
    assert catalog.cleanup_policy == "compact"
    assert catalog.retention_ms is None
    assert catalog.partitions == 1
    assert catalog.config == {"cleanup.policy": "compact"}


def test_delete_topics_have_a_retention() -> None:
    payments = topic_by_name("billing.payments.v1")
    assert payments.config == {"cleanup.policy": "delete", "retention.ms": "604800000"}


def test_expected_topics_exist() -> None:
    assert {topic.name for topic in TOPICS} >= {
        "bot.customers.v1",
        "bot.checkouts.v1",
        "billing.catalog.v1",
        "billing.checkouts.v1",
        "billing.payments.v1",
        "billing.subscriptions.v1",
        "provisioning.access.v1",
        "notifier.requests.v1",
        "gateway.payment-notifications.v1",
        "gateway.telegram-updates.v1",
    }


def test_unknown_topic() -> None:
    with pytest.raises(KeyError, match="not in the contracts topic catalog"):
        topic_by_name("billing.refunds.v1")


def test_service_sources() -> None:
    assert SERVICES == ("bot", "billing", "provisioning", "notifier", "gateway")
    assert SERVICE_SOURCES["billing"] == "/vpn/billing"
    assert set(SERVICE_SOURCES) == set(SERVICES)


def test_dead_letter_headers() -> None:
    assert DLQ_HEADERS == (
        "dlq_error",
        "dlq_error_type",
        "dlq_original_topic",
        "dlq_original_partition",
        "dlq_original_offset",
        "dlq_consumer",
        "dlq_failed_at",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "billing.payments"}, "does not match"),
        ({"name": "shop.payments.v1"}, "does not match"),
        ({"name": "billing.Payments.v1"}, "does not match"),
        ({"partitions": 0}, "partitions"),
        ({"cleanup_policy": "compact"}, "compacted"),
        ({"retention_ms": None}, "positive retention"),
        ({"key": " "}, "documented"),
        ({"description": ""}, "documented"),
    ],
)
def test_spec_validation(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "name": "billing.payments.v1",
        "partitions": 6,
        "cleanup_policy": "delete",
        "retention_ms": 1000,
        "key": "order id",
        "description": "payments",
    }
    with pytest.raises(ValueError, match=message):
        TopicSpec(**{**base, **fields})  # type: ignore[arg-type]
