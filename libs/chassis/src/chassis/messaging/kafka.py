"""FastStream Kafka wiring: the broker, the outbox publisher and batch subscriptions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from chassis.messaging.consumer import Backoff, EventConsumer, is_transient
from chassis.settings import ServiceSettings

log = logging.getLogger(__name__)


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """A broker that waits for every in-sync replica and needs no idempotent producer.

    Correctness never rests on Kafka idempotence or transactions (the embedded broker
    has neither): the outbox gives at-least-once delivery and the inbox dedupes.
    """
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=settings.kafka_client_id or type(settings).service_name,
        acks="all",
        enable_idempotence=False,
        linger_ms=settings.producer_linger_ms,
        request_timeout_ms=15_000,
        logger=logging.getLogger(f"faststream.{type(settings).service_name}"),
    )


class BrokerPublisher:
    """The relay's view of the broker: send without waiting, return the ack future."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        return await self._broker.publish(value, topic, key=key, headers=headers, no_confirm=True)


async def _keep_raw(message: StreamMessage[Any]) -> None:
    # The consumer parses envelopes and payloads itself, record by record, so that one
    # malformed record is dead-lettered instead of failing the whole batch in a decoder.
    return None


def subscribe(broker: KafkaBroker, consumer: EventConsumer, settings: ServiceSettings) -> None:
    """Attach ``consumer`` to its topics as one consumer group, in batches.

    Offsets are committed only after the batch's transaction commits; a transient
    failure rewinds the batch (nack seeks back) after a growing pause.
    """
    if not consumer.topics:
        raise ValueError(f"consumer {consumer.name} handles no events")
    backoff = Backoff()
    subscriber = broker.subscriber(
        *consumer.topics,
        group_id=consumer.group_id,
        batch=True,
        max_records=settings.consumer_max_records,
        batch_timeout_ms=settings.consumer_batch_timeout_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=consumer.group_id,
        decoder=_keep_raw,
    )

    @subscriber
    async def on_batch(message: KafkaMessage) -> None:
        records = message.raw_message
        batch = records if isinstance(records, tuple) else (records,)
        try:
            await consumer.handle_batch(batch)
        except Exception as exc:
            if not is_transient(exc):
                log.exception("unexpected consumer failure; redelivering the batch")
            else:
                log.warning(
                    "transient failure; redelivering the batch",
                    extra={"consumer": consumer.group_id, "error": repr(exc)},
                )
            await backoff.wait()
            raise
        backoff.reset()
