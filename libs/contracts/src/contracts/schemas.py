"""JSON Schemas of the events and the AsyncAPI 3.0 document, built from the code (no I/O)."""

from __future__ import annotations

import inspect
import json
from typing import Any, Final

from pydantic.json_schema import models_json_schema

import contracts
from contracts.envelope import (
    CE_CAUSATIONID,
    CE_CORRELATIONID,
    CE_ID,
    CE_SOURCE,
    CE_SPECVERSION,
    CE_SUBJECT,
    CE_TIME,
    CE_TYPE,
    CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    SPECVERSION,
    TRACEPARENT_HEADER,
    Event,
    registered_events,
)
from contracts.topics import (
    DLQ_CONSUMER,
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_FAILED_AT,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    SERVICE_SOURCES,
    TOPICS,
    TopicSpec,
)

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION: Final = "0.5.0"
DEADLETTER_MESSAGE: Final = "deadletter"


def contract_events() -> tuple[type[Event], ...]:
    """Every event class this package defines, sorted by event type.

    Classes registered from elsewhere (say, a test defining a throwaway event) are left out:
    only this package publishes contracts.
    """
    own = (
        cls
        for cls in registered_events().values()
        if cls.__module__.split(".", 1)[0] == contracts.__name__
    )
    return tuple(sorted(own, key=lambda cls: cls.event_type))


def schema_filename(event_type: str) -> str:
    """File name of an event type's committed schema."""
    return f"{event_type}.json"


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema a consumer validates records of ``cls`` against."""
    schema = cls.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        **schema,
        "x-event-type": cls.event_type,
        "x-topic": cls.topic.name,
        "x-key": cls.topic.key,
    }


def render_json(document: Any) -> str:
    """Stable text of a JSON document: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 description of every topic, its messages, headers and keys."""
    events = contract_events()
    refs, definitions = models_json_schema(
        [(cls, "validation") for cls in events], ref_template="#/components/schemas/{model}"
    )
    messages: dict[str, Any] = {
        cls.event_type: _event_message(cls, refs[(cls, "validation")]) for cls in events
    }
    messages[DEADLETTER_MESSAGE] = _deadletter_message()

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in TOPICS:
        message_ids = [cls.event_type for cls in events if cls.topic is topic]
        if topic.name.endswith(".deadletter.v1"):
            message_ids = [DEADLETTER_MESSAGE]
        channels[topic.name] = _channel(topic, message_ids)
        operations[f"{topic.name}.send"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic.name}"},
            "summary": _producer_summary(topic),
            "messages": [
                {"$ref": f"#/channels/{topic.name}/messages/{message_id}"}
                for message_id in message_ids
            ],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "VPN platform events",
            "version": contracts.__version__,
            "description": (
                "Every Kafka topic of the platform and the events on it, generated from "
                "`libs/contracts`. Records carry the CloudEvents 1.0 envelope in headers "
                "(binary mode), the event as compact UTF-8 JSON in the value and the id of "
                "the aggregate the event is about as the key. Within an event type's version "
                "only optional fields are added; anything else is a new `.vN` type."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Placeholder: every deployment names its own brokers.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": definitions.get("$defs", {}), "messages": messages},
    }


def _channel(topic: TopicSpec, message_ids: list[str]) -> dict[str, Any]:
    configuration: dict[str, Any] = {"cleanup.policy": [topic.cleanup_policy]}
    if topic.retention_ms is not None:
        configuration["retention.ms"] = topic.retention_ms
    return {
        "address": topic.name,
        "description": f"{topic.description}\n\nKey: {topic.key}.",
        "messages": {
            message_id: {"$ref": f"#/components/messages/{message_id}"}
            for message_id in message_ids
        },
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": configuration,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _producer_summary(topic: TopicSpec) -> str:
    if topic.name.endswith(".deadletter.v1"):
        return f"Consumers of the {topic.service} service park records they gave up on."
    if topic.service == "notifier":
        return "Any service asks the notifier to tell a customer something."
    if topic.service == "gateway":
        return "The gateway writes each request it accepts before answering it."
    return f"The {topic.service} service publishes through its transactional outbox."


def _event_message(cls: type[Event], payload: dict[str, Any]) -> dict[str, Any]:
    doc = inspect.cleandoc(cls.__doc__ or "")
    return {
        "name": cls.event_type,
        "title": cls.__name__,
        "summary": doc.split("\n", 1)[0],
        "description": doc,
        "contentType": CONTENT_TYPE,
        "headers": _cloudevents_headers(cls),
        "payload": payload,
        "correlationId": {
            "description": "Shared by every envelope of one causal chain.",
            "location": f"$message.header#/{CE_CORRELATIONID}",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": cls.topic.key},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _cloudevents_headers(cls: type[Event]) -> dict[str, Any]:
    source = (
        sorted(SERVICE_SOURCES.values())
        if cls.topic.service == "notifier"
        else [SERVICE_SOURCES[cls.topic.service]]
    )
    properties: dict[str, Any] = {
        CE_SPECVERSION: {"type": "string", "const": SPECVERSION},
        CE_ID: {"type": "string", "description": "Unique event id; the consumers' inbox key."},
        CE_SOURCE: {
            "type": "string",
            "format": "uri-reference",
            "description": "The producing service.",
            "examples": source,
        },
        CE_TYPE: {"type": "string", "const": cls.event_type},
        CE_TIME: {
            "type": "string",
            "format": "date-time",
            "description": "When the event happened, RFC 3339 in UTC.",
        },
        CE_SUBJECT: {"type": "string", "description": f"Same as the key: {cls.topic.key}."},
        CE_CORRELATIONID: {
            "type": "string",
            "description": "Id of the first envelope of the causal chain.",
        },
        CE_CAUSATIONID: {
            "type": "string",
            "description": "Id of the envelope that caused this one; absent at a chain's start.",
        },
        CONTENT_TYPE_HEADER: {"type": "string", "const": CONTENT_TYPE},
        TRACEPARENT_HEADER: {"type": "string", "description": "W3C trace context."},
    }
    return {
        "type": "object",
        "properties": properties,
        "required": [CE_SPECVERSION, CE_ID, CE_SOURCE, CE_TYPE, CE_TIME, CE_SUBJECT],
    }


def _deadletter_message() -> dict[str, Any]:
    headers = {
        DLQ_ERROR: "Error message of the last failure, truncated.",
        DLQ_ERROR_TYPE: "Qualified class name of the exception.",
        DLQ_ORIGINAL_TOPIC: "Topic the record was consumed from.",
        DLQ_ORIGINAL_PARTITION: "Partition it was consumed from (decimal).",
        DLQ_ORIGINAL_OFFSET: "Its offset there (decimal).",
        DLQ_CONSUMER: "Consumer group (and handler) that gave up.",
        DLQ_FAILED_AT: "When it gave up, RFC 3339 in UTC.",
    }
    return {
        "name": DEADLETTER_MESSAGE,
        "title": "Dead letter",
        "summary": "A record a consumer gave up on, parked for inspection and replay.",
        "description": (
            "The value is the original record's bytes, unchanged, and the key its key. The "
            "headers are the original headers (CloudEvents envelope, trace context) plus "
            "the `dlq_*` headers below."
        ),
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "properties": {
                name: {"type": "string", "description": description}
                for name, description in headers.items()
            },
            "required": list(headers),
        },
        "payload": {"description": "The original record value, byte for byte."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original record's key."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
