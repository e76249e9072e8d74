"""Writing what arrives from outside straight to Kafka, for ingress that answers after the write.

The gateway must not tell a payment provider or Telegram "received" before the input is
durable, and the input is not a state change of the gateway's own: so it is written to
Kafka directly (acks=all) instead of through the outbox, and the caller answers only once
the broker has acknowledged it.
"""

from __future__ import annotations

from opentelemetry import propagate, trace

from chassis.messaging.kafka import KafkaPublisher
from chassis.telemetry import tracer
from contracts.envelope import Envelope, Event, encode


class IngressWriter:
    """Publishes one event and waits until every in-sync replica has it."""

    def __init__(self, publisher: KafkaPublisher, source: str) -> None:
        self._publisher = publisher
        self.source = source

    async def write(self, event: Event) -> Envelope:
        """Raises when the broker is unreachable or refuses: the caller answers an error."""
        envelope = Envelope.for_event(event, source=self.source)
        topic = event.topic.name
        with tracer().start_as_current_span(
            f"{topic} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "messaging.message.id": envelope.id,
                "messaging.kafka.message.key": event.key(),
                "cloudevents.event_type": envelope.type,
            },
        ):
            headers = envelope.to_header_map()
            propagate.inject(headers)
            future = await self._publisher.send(topic, event.key().encode(), encode(event), headers)
            await future
        return envelope
