"""Proof that the outbox/inbox machinery holds, against real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chassis.db import transaction
from chassis.messaging.relay import OutboxRelay
from chassis.telemetry import setup_tracing
from contracts import topics
from contracts.envelope import Envelope, encode
from devstack.pytest_plugin import KafkaInfo

from . import ledger
from .conftest import Ledger, Producer, eventually, notification, read_topic

pytestmark = pytest.mark.integration

TOPIC = topics.NOTIFIER_REQUESTS.name


class RelayCrash(Exception):
    pass


class CrashAfterPublish(OutboxRelay):
    """Publishes, then dies before it can mark anything sent."""

    async def mark_sent(self, conn: AsyncConnection, ids: Any) -> None:
        raise RelayCrash


async def _records_with_ids(kafka: KafkaInfo, ids: set[str]) -> list[Any]:
    records = await read_topic(kafka.bootstrap, TOPIC)
    return [r for r in records if dict(r.headers).get("ce_id", b"").decode() in ids]


async def test_relay_crash_after_publish_applies_each_event_once(
    producer: Producer, ledger_db: Ledger, run_ledger: Any, kafka: KafkaInfo
) -> None:
    customers = [uuid.uuid4() for _ in range(5)]
    envelopes = await producer.emit(notification(c, seq) for seq in range(10) for c in customers)
    ids = {e.id for e in envelopes}

    crashing = await producer.relay(CrashAfterPublish)
    async with producer.engine.connect() as conn:
        with pytest.raises(RelayCrash):
            await crashing.relay_once(conn)
    assert await producer.unsent() == 50, "nothing was marked sent before the crash"

    await producer.run_relay()
    await run_ledger()
    await eventually(lambda: _has(ledger_db, customers, 50), what="50 applied events")
    await eventually(lambda: _is(producer.unsent(), 0), what="outbox drained")

    on_topic = await _records_with_ids(kafka, ids)
    assert len(on_topic) == 100, "every event reached Kafka twice"
    await asyncio.sleep(1.0)  # let any late duplicate arrive before counting
    rows = await ledger_db.applied_rows(customers)
    assert Counter(event_id for _, event_id, _, _ in rows) == Counter(dict.fromkeys(ids, 1))


async def test_two_replicas_relay_each_event_once_with_one_active_relay(
    producer: Producer, kafka: KafkaInfo
) -> None:
    first = await producer.run_relay()
    second = await producer.run_relay()
    customers = [uuid.uuid4() for _ in range(4)]
    envelopes: list[Envelope] = []
    for seq in range(25):  # commits keep arriving while both replicas are up
        envelopes += await producer.emit(notification(c, seq) for c in customers)
    await eventually(lambda: _is(producer.unsent(), 0), what="outbox drained")

    assert [first.active, second.active].count(True) == 1
    records = await _records_with_ids(kafka, {e.id for e in envelopes})
    assert Counter(dict(r.headers)["ce_id"].decode() for r in records) == Counter(
        dict.fromkeys((e.id for e in envelopes), 1)
    ), "no event is published twice in normal operation"
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(int(json.loads(record.value)["params"]["seq"]))
    assert all(seqs == list(range(25)) for seqs in by_key.values()), "order per key holds"

    await (first if first.active else second).stop()
    late = await producer.emit([notification(customers[0], 25)])
    await eventually(lambda: _is(producer.unsent(), 0), timeout=30, what="the standby takes over")
    assert len(await _records_with_ids(kafka, {late[0].id})) == 1


async def test_consumer_killed_mid_batch_and_restarted_applies_each_event_once(
    producer: Producer, ledger_db: Ledger, ledger_process: Any
) -> None:
    customers = [uuid.uuid4() for _ in range(6)]
    total = 600
    envelopes = await producer.emit(notification(customers[i % 6], i // 6) for i in range(total))
    await producer.run_relay()
    group = f"ledger-{uuid.uuid4().hex[:8]}"
    settings = {"consumer_name": group, "handle_delay_ms": 3, "consumer_max_records": 40}

    first = ledger_process(**settings)
    first.start()
    await eventually(lambda: _has(ledger_db, customers, 60), timeout=60, what="progress")
    first.kill()
    applied_when_killed = await ledger_db.count(customers)
    assert applied_when_killed < total, "the consumer was killed mid-flow"

    second = ledger_process(**settings)
    second.start()
    await eventually(lambda: _has(ledger_db, customers, total), timeout=90, what="all applied")
    assert second.terminate() == 0, "SIGTERM stops the service cleanly"

    rows = await ledger_db.applied_rows(customers)
    assert Counter(event_id for _, event_id, _, _ in rows) == Counter({e.id: 1 for e in envelopes})
    async with ledger_db.engine.connect() as conn:
        inbox = ledger.messaging.inbox
        seen = await conn.scalar(
            select(func.count()).where(
                inbox.c.consumer == group,
                inbox.c.outcome == "processed",
                inbox.c.event_id.in_([e.id for e in envelopes]),
            )
        )
    assert seen == total


async def test_same_event_delivered_three_times_is_applied_once(
    ledger_db: Ledger, run_ledger: Any, kafka: KafkaInfo
) -> None:
    customer = uuid.uuid4()
    event = notification(customer, 1)
    envelope = Envelope.for_event(event, source="/vpn/billing")
    service = await run_ledger()
    group = service.consumers[0].group_id
    before = _metric("events_consumed_total", event.event_type, "duplicate")

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        for _ in range(3):
            await producer.send_and_wait(
                TOPIC, encode(event), key=event.key().encode(), headers=envelope.to_headers()
            )
    finally:
        await producer.stop()

    await eventually(lambda: _has(ledger_db, [customer], 1), what="first delivery applied")
    await eventually(
        lambda: _is_async(
            _metric("events_consumed_total", event.event_type, "duplicate") - before, 2
        ),
        what="two duplicates seen",
    )
    assert await ledger_db.count([customer]) == 1
    assert group.startswith("notifier.")


async def test_rolled_back_transaction_publishes_nothing(
    producer: Producer, ledger_db: Ledger, run_ledger: Any, kafka: KafkaInfo
) -> None:
    customer = uuid.uuid4()
    rolled_back: list[Envelope] = []

    async def declined_purchase() -> None:
        async with transaction(producer.sessions) as session:
            rolled_back.append(await producer.outbox.add(session, notification(customer, 0)))
            raise RuntimeError("payment declined")

    with pytest.raises(RuntimeError, match="payment declined"):
        await declined_purchase()
    marker = await producer.emit([notification(customer, 1)])

    await producer.run_relay()
    await run_ledger()
    await eventually(lambda: _has(ledger_db, [customer], 1), what="the committed event applied")

    rows = await ledger_db.applied_rows([customer])
    assert [event_id for _, event_id, _, _ in rows] == [marker[0].id]
    assert await _records_with_ids(kafka, {rolled_back[0].id}) == []
    async with producer.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(producer.tables.outbox)) == 1


async def test_order_per_key_holds_across_partitions(
    producer: Producer, ledger_db: Ledger, run_ledger: Any
) -> None:
    customers = [uuid.uuid4() for _ in range(12)]
    per_customer = 60
    for chunk in range(4):  # several transactions, interleaved keys within each
        seqs = range(chunk * 15, (chunk + 1) * 15)
        await producer.emit(notification(c, s) for s in seqs for c in customers)
    await producer.run_relay()
    service = await run_ledger(consumer_max_records=37)
    total = len(customers) * per_customer
    await eventually(lambda: _has(ledger_db, customers, total), timeout=60, what="all applied")

    by_customer: dict[str, list[int]] = defaultdict(list)
    for _, _, customer, seq in await ledger_db.applied_rows(customers):
        by_customer[customer].append(seq)
    for customer, seqs in by_customer.items():
        assert seqs == list(range(per_customer)), f"order broken for {customer}"

    async with ledger_db.engine.connect() as conn:
        inbox = ledger.messaging.inbox
        partitions = await conn.scalar(
            select(func.count(func.distinct(inbox.c.partition))).where(
                inbox.c.consumer == service.consumers[0].name
            )
        )
    assert partitions is not None
    assert partitions > 1, "the keys spread over several partitions"


async def test_consumer_span_is_a_child_of_the_producer_span(
    producer: Producer, ledger_db: Ledger, run_ledger: Any
) -> None:
    exporter = InMemorySpanExporter()
    provider = setup_tracing("billing", None, exporter=exporter)
    customer = uuid.uuid4()
    with trace.get_tracer("test").start_as_current_span("checkout") as root:
        envelopes = await producer.emit([notification(customer, 0)])
    await producer.run_relay()
    await run_ledger()
    await eventually(lambda: _has(ledger_db, [customer], 1), what="event applied")

    def spans_for(event_id: str) -> list[ReadableSpan]:
        provider.force_flush()
        return [
            s
            for s in exporter.get_finished_spans()
            if (s.attributes or {}).get("messaging.message.id") == event_id
        ]

    async def both_spans() -> bool:
        return len(spans_for(envelopes[0].id)) >= 2

    await eventually(both_spans, what="publish and process spans")
    spans = {s.kind: s for s in spans_for(envelopes[0].id)}
    publish, process = spans[trace.SpanKind.PRODUCER], spans[trace.SpanKind.CONSUMER]
    root_ctx = root.get_span_context()
    assert publish.context is not None
    assert process.context is not None
    assert publish.context.trace_id == root_ctx.trace_id
    assert publish.parent is not None
    assert publish.parent.span_id == root_ctx.span_id
    assert process.context.trace_id == root_ctx.trace_id
    assert process.parent is not None
    assert process.parent.span_id == publish.context.span_id


async def test_malformed_messages_go_to_the_dead_letter_topic_without_blocking(
    producer: Producer, ledger_db: Ledger, run_ledger: Any, kafka: KafkaInfo
) -> None:
    customer = uuid.uuid4()
    key = str(customer).encode()
    valid_type = notification(customer, 0)
    headers = Envelope.for_event(valid_type, source="/vpn/billing").to_headers()

    raw = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await raw.start()
    try:
        garbage = await raw.send_and_wait(TOPIC, b"{not json", key=key, headers=headers)
        headerless = await raw.send_and_wait(TOPIC, b'{"seq": 1}', key=key)
    finally:
        await raw.stop()
    poison = await producer.emit([notification(customer, 0, template="poison")])
    good = await producer.emit([notification(customer, 7)])
    await producer.run_relay()
    await run_ledger()

    await eventually(lambda: _has(ledger_db, [customer], 1), what="the good event applied")
    rows = await ledger_db.applied_rows([customer])
    assert [event_id for _, event_id, _, _ in rows] == [good[0].id]

    dead_letter_topic = topics.deadletter_topic_name("notifier")

    async def dead_letters() -> list[dict[str, bytes]]:
        records = await read_topic(kafka.bootstrap, dead_letter_topic)
        return [dict(r.headers) for r in records if r.key == key]

    async def three_dead() -> bool:
        return len(await dead_letters()) >= 3

    await eventually(three_dead, what="three dead letters")
    letters = await dead_letters()
    by_offset = {h[topics.DLQ_ORIGINAL_OFFSET].decode(): h for h in letters}
    assert by_offset[str(garbage.offset)][topics.DLQ_ERROR_TYPE] == b"InvalidEventPayload"
    assert by_offset[str(headerless.offset)][topics.DLQ_ERROR_TYPE] == b"EnvelopeError"
    poisoned = next(h for h in letters if h.get("ce_id") == poison[0].id.encode())
    assert b"cannot be applied" in poisoned[topics.DLQ_ERROR]
    for headers_ in letters:
        assert headers_[topics.DLQ_ORIGINAL_TOPIC] == TOPIC.encode()
        assert headers_[topics.DLQ_CONSUMER].startswith(b"notifier.")


async def test_graceful_stop_commits_the_offsets_of_everything_handled(
    producer: Producer, ledger_db: Ledger, run_ledger: Any, kafka: KafkaInfo
) -> None:
    customers = [uuid.uuid4() for _ in range(8)]
    await producer.emit(notification(c, s) for s in range(5) for c in customers)
    await producer.run_relay()
    # A long commit interval: only the stop itself can have committed these offsets.
    service = await run_ledger(consumer_commit_interval_ms=3_600_000)
    await eventually(lambda: _has(ledger_db, customers, 40), what="all applied")
    group = service.consumers[0]
    await service.stop()

    # The group read the whole topic, the other tests' records too: everything up to each
    # partition's end was handled (applied, skipped as a duplicate, or dead-lettered), so
    # the stop must have committed every partition to its end. (The inbox holds one row per
    # event id, so a duplicate's offset is in no row: it cannot be the yardstick.)
    reader = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap, group_id=group.group_id, enable_auto_commit=False
    )
    await reader.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in range(topics.NOTIFIER_REQUESTS.partitions)]
        ends = await reader.end_offsets(partitions)
        committed = {tp.partition: await reader.committed(tp) for tp in partitions if ends[tp]}
    finally:
        await reader.stop()
    assert committed == {tp.partition: end for tp, end in ends.items() if end}
    inbox = ledger.messaging.inbox
    async with ledger_db.engine.connect() as conn:
        last_handled = dict(
            (
                await conn.execute(
                    select(inbox.c.partition, func.max(inbox.c.offset))
                    .where(inbox.c.consumer == group.name)
                    .group_by(inbox.c.partition)
                )
            ).all()
        )
    assert all(last < committed[p] for p, last in last_handled.items())


def _metric(name: str, event_type: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        name, {"service": "notifier", "event_type": event_type, "outcome": outcome}
    )
    return value or 0.0


async def _is_async(value: float, expected: float) -> bool:
    return value >= expected


async def _has(ledger_db: Ledger, customers: list[uuid.UUID], expected: int) -> bool:
    return await ledger_db.count(customers) >= expected


async def _is(value: Any, expected: int) -> bool:
    return (await value) == expected
