"""FastStream Kafka wiring: the broker, the outbox publisher and batch subscriptions."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from chassis import metrics
from chassis.messaging.consumer import Backoff, EventConsumer, Record, RetryLater, is_transient
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
    """The service's producer: sends without waiting and returns the acknowledgement future.

    The outbox relay publishes through it, and so does the gateway's ingress, which must
    answer only after a write; it is aiokafka's, without per-message framework overhead on
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


class OffsetCommitter:
    """Commits the Kafka offsets of batches whose transactions have committed.

    A batch's effects and its inbox rows commit in one database transaction; that, not the
    offset, is what makes consumption exactly once. So offsets are committed at most every
    ``interval_s`` (a restart or rebalance redelivers at most that much, which the inbox
    skips, and the broker is spared a commit per small batch), after every batch once the
    service is stopping, and right away on :meth:`stopping`. Only offsets of batches that
    finished are ever committed, never those of a batch still in hand.
    """

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._pending: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._last = 0.0
        self._final = False

    def done(self, consumer: object, records: Sequence[Record]) -> None:
        if isinstance(consumer, AIOKafkaConsumer):
            self._consumer = consumer
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self._pending[tp] = max(self._pending.get(tp, 0), record.offset + 1)

    async def after_batch(self) -> None:
        if self._final or time.monotonic() - self._last >= self._interval_s:
            await self.commit()

    async def stopping(self) -> None:
        self._final = True
        await self.commit()

    async def commit(self) -> None:
        consumer, pending = self._consumer, self._pending
        self._pending = {}
        self._last = time.monotonic()
        if consumer is None or not pending:
            return
        owned = consumer.assignment()
        offsets = {tp: offset for tp, offset in pending.items() if tp in owned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as exc:  # a rebalance in between: the new owner's inbox dedupes
            log.warning(
                "could not commit offsets; they will be redelivered", extra={"error": repr(exc)}
            )


def subscribe(
    broker: KafkaBroker, consumer: EventConsumer, settings: ServiceSettings
) -> OffsetCommitter:
    """Attach ``consumer`` to its topics as one consumer group, in batches.

    Offsets are committed by an :class:`OffsetCommitter` after the batch's transaction
    commits. A transient failure rewinds the batch (seek back) after a growing pause.
    """
    if not consumer.topics:
        raise ValueError(f"consumer {consumer.name} handles no events")
    backoff = Backoff()
    committer = OffsetCommitter(settings.consumer_commit_interval_ms / 1000)
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
            await backoff.wait(at_least_s=exc.after_s if isinstance(exc, RetryLater) else None)
            await message.nack()
            return
        backoff.reset()
        committer.done(message.consumer, batch)
        await committer.after_batch()

    return committer
