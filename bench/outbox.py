"""Benchmark: events through outbox -> Kafka -> inbox, with exactly-once effects.

One producer service writes events through its transactional outbox (its relay publishes
them); one consumer service applies each to a ledger through its inbox. Both are chassis
services in processes of their own, on real PostgreSQL and Kafka. Latency is measured per
event from the producer's commit to the consumer's commit (one machine, one clock).

    make bench-outbox                      # 50,000 events as fast as they go
    python bench/outbox.py --events 20000 --rate 2000   # a fixed offered load

Prints the figures and writes them to bench/results/outbox.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

import psutil
from pydantic_settings import SettingsConfigDict
from sqlalchemy import BigInteger, Column, Identity, Table, Text, func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from chassis.db import new_metadata, transaction
from chassis.messaging.consumer import EventConsumer, MessageContext, Record
from chassis.messaging.tables import messaging_tables
from chassis.migrations import create_schema_without_migrations
from chassis.service import Service
from chassis.settings import ServiceSettings
from contracts.notifier import SendNotification

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "outbox.json"

metadata = new_metadata()
messaging = messaging_tables(metadata)
ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Text, nullable=False),  # deliberately not unique: duplicates would show
    Column("customer_id", Text, nullable=False),
)


class BenchSettings(ServiceSettings):
    service_name: ClassVar[str] = "billing"
    model_config = SettingsConfigDict(env_prefix="BENCH_")
    migrate_on_start: bool = False


class ConsumerSettings(BenchSettings):
    service_name: ClassVar[str] = "notifier"


class TimedConsumer(EventConsumer):
    """Notes when each event's batch committed, for the latency figures."""

    committed_at: ClassVar[dict[str, float]] = {}

    async def handle_batch(self, records: Any) -> None:
        await super().handle_batch(records)
        now = time.time()
        for record in records:
            self._stamp(record, now)

    def _stamp(self, record: Record, now: float) -> None:
        event_id = dict(record.headers or ()).get("ce_id")
        if event_id is not None:
            self.committed_at.setdefault(event_id.decode(), now)


async def run_consumer() -> dict[str, float]:
    settings = ConsumerSettings()
    service = Service(settings, metadata, migrations="unused:migrations")
    consumer = TimedConsumer(
        service="notifier",
        name="bench",
        sessions=service.sessions,
        tables=service.tables,
        outbox=service.outbox,
    )
    service.consumers.append(consumer)

    @consumer.handles_batch(SendNotification)
    async def apply(items: list[tuple[SendNotification, MessageContext]]) -> None:
        session = items[0][1].session
        await session.execute(
            insert(ledger),
            [{"event_id": c.envelope.id, "customer_id": str(e.customer_id)} for e, c in items],
        )

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(15, stop.set)
    await service.start()
    await stop.wait()
    await service.stop()
    return TimedConsumer.committed_at


async def run_producer(events: int, rate: float, per_tx: int, writers: int) -> dict[str, float]:
    settings = BenchSettings()
    service = Service(settings, metadata, migrations="unused:migrations")
    # Installed first: the orchestrator may ask us to stop the moment the last event lands.
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(15, stop.set)
    await service.start()
    customers = [uuid.uuid4() for _ in range(1000)]
    committed: dict[str, float] = {}
    per_writer = events // writers
    interval = per_tx * writers / rate if rate else 0.0

    async def writer(index: int) -> None:
        next_at = time.monotonic()
        for start in range(0, per_writer, per_tx):
            batch = [
                SendNotification(
                    notification_id=uuid.uuid4(),
                    customer_id=customers[(index * per_writer + start + i) % len(customers)],
                    template="bench.entry",
                    params={"seq": start + i},
                    channel="telegram",
                )
                for i in range(min(per_tx, per_writer - start))
            ]
            async with transaction(service.sessions) as session:
                ids = [envelope.id for envelope in await service.outbox.add_many(session, batch)]
            now = time.time()
            committed.update(dict.fromkeys(ids, now))
            if interval:
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    await asyncio.gather(*(writer(i) for i in range(writers)))
    await stop.wait()
    await service.stop()
    return committed


def _cpu_seconds(pid: int | None, *, with_children: bool = False) -> float:
    """CPU time (user + system) a process has used so far."""
    if pid is None:
        return 0.0
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)] if with_children else [proc]
    return round(sum(sum(p.cpu_times()[:2]) for p in procs), 2)


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    from contracts.topics import TOPICS
    from devstack.brokers import broker_kind_from_env, start_broker
    from devstack.postgres import LocalPostgres, recreate_database
    from devstack.topics import create_topics

    work = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    postgres = LocalPostgres(work / "postgres", durable=True)
    postgres.start()
    broker = await start_broker(broker_kind_from_env(default="apache"), data_dir=work / "kafka")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await create_topics(
            broker.bootstrap,
            [{"name": t.name, "partitions": t.partitions, "config": t.config} for t in TOPICS],
        )
        urls = {}
        for role in ("producer", "consumer"):
            url = await recreate_database(postgres.admin_dsn, f"bench_{role}", uuid.uuid4().hex)
            await create_schema_without_migrations(url, metadata)
            urls[role] = url

        def spawn(role: str, *extra: str, out: str | None = None) -> subprocess.Popen[bytes]:
            env = dict(os.environ)
            env.update(
                {
                    "BENCH_DATABASE_URL": urls[role],
                    "BENCH_KAFKA_BOOTSTRAP": broker.bootstrap,
                    "BENCH_LOG_LEVEL": "WARNING",
                    "BENCH_DB_POOL_SIZE": str(args.writers + 2),
                }
            )
            path = work / f"{out or role}.json"
            cmd = [sys.executable, __file__, role, "--out", str(path), *extra]
            proc = subprocess.Popen(cmd, env=env)
            procs.append(proc)
            return proc

        consumer = spawn("consumer")
        consumer_engine = create_async_engine(urls["consumer"])

        async def applied() -> int:
            async with consumer_engine.connect() as conn:
                return int(await conn.scalar(select(func.count()).select_from(ledger)) or 0)

        # Warm up: the consumer group joins and both sides have their connections.
        warmup = spawn("producer", "--events", "200", "--writers", "1", out="warmup")
        while await applied() < 200:
            await asyncio.sleep(0.1)
        warmup.terminate()
        warmup.wait()
        base = await applied()

        cpu_before = {
            "consumer_service": _cpu_seconds(consumer.pid),
            "kafka_broker": _cpu_seconds(broker.pid),
            "postgres": _cpu_seconds(postgres.pid, with_children=True),
        }
        started = time.monotonic()
        producer = spawn(
            "producer",
            "--events", str(args.events),
            "--rate", str(args.rate),
            "--per-tx", str(args.per_tx),
            "--writers", str(args.writers),
        )  # fmt: skip
        expected = args.events - args.events % args.writers
        while await applied() - base < expected:
            if time.monotonic() - started > args.timeout:
                raise SystemExit(f"timed out: {await applied() - base} of {expected} applied")
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        # CPU spent during the measured run (the producer process lives only in it).
        cpu = {
            "producer_service": _cpu_seconds(producer.pid),
            "consumer_service": _cpu_seconds(consumer.pid) - cpu_before["consumer_service"],
            "kafka_broker": _cpu_seconds(broker.pid) - cpu_before["kafka_broker"],
            "postgres": _cpu_seconds(postgres.pid, with_children=True) - cpu_before["postgres"],
        }
        cpu = {name: round(seconds, 2) for name, seconds in cpu.items()}
        producer.terminate()
        producer.wait()
        await asyncio.sleep(1.0)  # any duplicate delivery would land now
        consumer.terminate()
        consumer.wait()

        async with consumer_engine.connect() as conn:
            rows, distinct = (
                await conn.execute(
                    select(func.count(), func.count(func.distinct(ledger.c.event_id)))
                )
            ).one()
        await consumer_engine.dispose()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        await broker.stop()
        postgres.stop()

    produced = json.loads((work / "producer.json").read_text())
    consumed = json.loads((work / "consumer.json").read_text())
    latencies = sorted(
        (consumed[event_id] - at) * 1000
        for event_id, at in produced.items()
        if event_id in consumed
    )
    return {
        "events": expected,
        "events_per_s": round(expected / elapsed, 1),
        "elapsed_s": round(elapsed, 3),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "latency_samples": len(latencies),
        "duplicates_applied": int(rows) - int(distinct),
        "cpu_seconds": cpu,
        "broker": {"name": broker.name, "version": broker.version},
        "config": {
            "offered_rate_per_s": args.rate or "unlimited",
            "events_per_transaction": args.per_tx,
            "concurrent_writers": args.writers,
            "postgres": "embedded, durable (fsync on)",
            "topic_partitions": 6,
        },
        "machine": {"cpus": os.cpu_count(), "python": host.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="run", choices=["run", "producer", "consumer"])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=0.0, help="offered events/s; 0 = unlimited")
    parser.add_argument("--per-tx", type=int, default=10, help="events per producer transaction")
    parser.add_argument("--writers", type=int, default=4, help="concurrent producer transactions")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.role == "consumer":
        args.out.write_text(json.dumps(asyncio.run(run_consumer())))
    elif args.role == "producer":
        profile = os.environ.get("BENCH_PROFILE")
        if profile and args.events > 1000:
            import cProfile

            profiler = cProfile.Profile()
            stamps = profiler.runcall(
                asyncio.run, run_producer(args.events, args.rate, args.per_tx, args.writers)
            )
            profiler.dump_stats(profile)
        else:
            stamps = asyncio.run(run_producer(args.events, args.rate, args.per_tx, args.writers))
        args.out.write_text(json.dumps(stamps))
    else:
        result = asyncio.run(orchestrate(args))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
