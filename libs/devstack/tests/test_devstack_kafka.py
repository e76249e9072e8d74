"""Both local brokers: start, topics with configs, keyed produce, group consume, clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devstack.brokers import BrokerKind, KafkaBroker, create_broker
from devstack.topics import TopicCreationError, TopicSpec, create_topics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["tansu", "apache"])
async def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[KafkaBroker]:
    kind: BrokerKind = request.param
    # Default cache dir (<repo>/.cache): the Maven download is reused across runs.
    instance = create_broker(kind, data_dir=tmp_path_factory.mktemp(f"kafka-{kind}"))
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


async def test_identity(broker: KafkaBroker) -> None:
    assert broker.running
    assert broker.name in {"apache-kafka", "tansu"}
    assert broker.version
    host, _, port = broker.bootstrap.rpartition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0


async def test_create_topics_with_configs_is_idempotent(broker: KafkaBroker) -> None:
    specs: list[TopicSpec | Mapping[str, Any]] = [
        TopicSpec("devstack.orders", 3, {"cleanup.policy": "compact", "retention.ms": "3600000"}),
        {"name": "devstack.audit", "partitions": 2, "config": {"retention.ms": "60000"}},
    ]
    first = await create_topics(broker.bootstrap, specs)
    assert [(r.name, r.created, r.partitions) for r in first] == [
        ("devstack.orders", True, 3),
        ("devstack.audit", True, 2),
    ]
    again = await create_topics(broker.bootstrap, specs)
    assert [r.created for r in again] == [False, False]

    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "devstack.orders")]
        )
    finally:
        await admin.close()
    [resource] = response.to_object()["resources"]
    configs = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
    assert configs["cleanup.policy"] == "compact"
    assert configs["retention.ms"] == "3600000"


async def test_rejected_configs(broker: KafkaBroker, caplog: pytest.LogCaptureFixture) -> None:
    spec = TopicSpec("devstack.lenient", 1, {"retention.ms": "1000", "no.such.config": "1"})
    [result] = await create_topics(broker.bootstrap, [spec])
    assert result.created
    if broker.name == "apache-kafka":
        assert result.dropped_config == {"no.such.config": "1"}
        assert "rejected config" in caplog.text
        with pytest.raises(TopicCreationError, match="INVALID_CONFIG"):
            await create_topics(
                broker.bootstrap, [TopicSpec("devstack.strict", 1, {"x.y": "1"})], strict=True
            )
    else:  # Tansu stores any config without validating it
        assert result.dropped_config == {}


async def test_keyed_produce_and_group_consume_with_manual_commit(broker: KafkaBroker) -> None:
    topic = "devstack.keyed"
    await create_topics(broker.bootstrap, [TopicSpec(topic, 3)])
    keys = [f"customer-{i}" for i in range(6)]
    sent = [(keys[i % len(keys)], f"event-{i}") for i in range(60)]

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in sent:
            await producer.send(topic, value=value.encode(), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()

    received = await _consume(broker.bootstrap, topic, "devstack-group", len(sent))
    by_key: dict[str, list[str]] = defaultdict(list)
    partitions_of: dict[str, set[int]] = defaultdict(set)
    for partition, key, value in received:
        by_key[key].append(value)
        partitions_of[key].add(partition)
    assert len(received) == len(sent)
    for key in keys:
        assert by_key[key] == [v for k, v in sent if k == key]  # per-key order kept
        assert len(partitions_of[key]) == 1  # a key always lands on one partition
    assert len({p for ps in partitions_of.values() for p in ps}) > 1

    # The group resumes from its committed offsets: only the new message arrives.
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=b"late", key=b"customer-0")
    finally:
        await producer.stop()
    later = await _consume(broker.bootstrap, topic, "devstack-group", 1)
    assert [(k, v) for _, k, v in later] == [("customer-0", "late")]


async def _consume(
    bootstrap: str, topic: str, group: str, expected: int
) -> list[tuple[int, str, str]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Tansu ignores LeaveGroup and holds joins for about the session timeout: keep it short.
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    received: list[tuple[int, str, str]] = []
    next_offset: dict[TopicPartition, int] = {}
    try:
        deadline = time.monotonic() + 30
        while len(received) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                for msg in messages:
                    assert msg.key is not None
                    assert msg.value is not None
                    received.append((tp.partition, msg.key.decode(), msg.value.decode()))
                    next_offset[tp] = msg.offset + 1
            if batches:
                await consumer.commit()
        await asyncio.sleep(0.2)  # nothing beyond what we expect
        extra = await consumer.getmany(timeout_ms=200)
        assert not any(extra.values())
        for tp, offset in next_offset.items():
            assert await consumer.committed(tp) == offset
        assert {tp.partition for tp in consumer.assignment()} == {0, 1, 2}
    finally:
        await consumer.stop()
    return received


async def test_end_offsets_after_batched_produce(broker: KafkaBroker) -> None:
    topic = "devstack.offsets"
    await create_topics(broker.bootstrap, [TopicSpec(topic, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(20):  # sent without waiting: one record batch
            await producer.send(topic, value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        end = (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()
    if broker.name == "tansu" and end != 20:
        pytest.xfail(f"Tansu ListOffsets(latest) reports {end}: last batch's base offset + 1")
    assert end == 20


async def test_stop_leaves_no_process(broker: KafkaBroker) -> None:
    """Runs last for each broker: stopping is idempotent, the fixture stops again."""
    pid = broker.pid
    assert pid is not None
    await broker.stop()
    assert not broker.running
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    await broker.stop()


def test_cli_runs_until_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.kafka", "tansu", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        fields = dict(part.split("=", 1) for part in line.split())
        assert fields["broker"] == "tansu"
        assert fields["bootstrap"].startswith("127.0.0.1:")
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(20) == 0
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
