"""FastStream Kafka wiring: the broker, the outbox publisher and batch subscriptions."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from chassis import metrics
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


@functools.lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    # Kafka's own murmur2 (same partitions as the Java clients), pure Python in aiokafka:
    # aggregate keys repeat, so caching the hash takes it off the relay's hot path.
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioning (murmur2 of the key), with the hash cached per key."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - not security
    return all_partitions[_key_hash(key) % len(all_partitions)]


class KafkaPublisher:
    """The relay's producer: sends without waiting and returns the acknowledgement future.

    Only the outbox relay publishes (services never publish directly), so this is the
    service's one producer; it is aiokafka's, without per-message framework overhead on
    the hottest path of the platform.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # aiokafka binds to the running loop, so the producer is made here, not in __init__.
        settings = self._settings
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=f"{settings.kafka_client_id or type(settings).service_name}-relay",
            acks="all",
            enable_idempotence=False,
            linger_ms=settings.producer_linger_ms,
            request_timeout_ms=15_000,
            partitioner=key_partitioner,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        if self._producer is None:
            raise ConnectionError("the Kafka producer is not started")
        future: asyncio.Future[Any] = await self._producer.send(
            topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
        )
        return future


async def _keep_raw(message: StreamMessage[Any]) -> None:
    # The consumer parses envelopes and payloads itself, record by record, so that one
    # malformed record is dead-lettered instead of failing the whole batch in a decoder.
    return None


def subscribe(broker: KafkaBroker, consumer: EventConsumer, settings: ServiceSettings) -> None:
    """Attach ``consumer`` to its topics as one consumer group, in batches.

    A batch's effects and its inbox rows commit in one database transaction; that, not
    the Kafka offset, is what makes it exactly once. Offsets are therefore committed at
    most every ``consumer_commit_interval_ms`` (after a successful batch): a restart or
    rebalance redelivers at most that much, which the inbox skips, and the broker is
    spared a commit per small batch. A transient failure rewinds the batch (seek back)
    after a growing pause.
    """
    if not consumer.topics:
        raise ValueError(f"consumer {consumer.name} handles no events")
    backoff = Backoff()
    commit_every = settings.consumer_commit_interval_ms / 1000
    last_commit = 0.0
    subscriber = broker.subscriber(
        *consumer.topics,
        group_id=consumer.group_id,
        batch=True,
        max_records=settings.consumer_max_records,
        batch_timeout_ms=settings.consumer_batch_timeout_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        title=consumer.group_id,
        decoder=_keep_raw,
    )

    @subscriber
    async def on_batch(message: KafkaMessage) -> None:
        nonlocal last_commit
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
            metrics.CONSUMER_BATCH_FAILURES.labels(consumer.service).inc()
            await backoff.wait()
            await message.nack()
            return
        backoff.reset()
        now = time.monotonic()
        if now - last_commit >= commit_every:
            await message.ack()
            last_commit = now
