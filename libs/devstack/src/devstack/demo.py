"""``make demo``: one customer buys a VPN subscription on the local runtime, narrated.

Starts everything :mod:`devstack.runtime` starts (in a throw-away data directory, on free
ports, so it runs beside ``make up``), lets a simulated customer talk to the bot and pay,
and prints what the customer saw in Telegram, the events on every topic, and the trace
that follows the payment through the services. Service logs go to a file.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import TOPICS
from devstack.customer import SimulatedCustomer, buttons, subscription_link
from devstack.runtime import LocalRuntime
from sandbox.telegram import BotMessage

RULE = "─" * 78


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _indent(text: str, prefix: str) -> str:
    return textwrap.indent(text, prefix, lambda _: True)


def show_user(action: str) -> None:
    _out(f"\n  👤 customer: {action}")


def show_bot(message: BotMessage) -> None:
    verb = "sends" if message.kind == "sent" else "edits its message to"
    _out(f"  🤖 bot {verb}:")
    _out(_indent(message.text or message.caption or "", "     │ "))
    for button in buttons(message):
        target = f" → {button['url']}" if "url" in button else ""
        _out(f"     [ {button['text']} ]{target}")


@dataclass(frozen=True)
class TopicRecord:
    topic: str
    key: str
    event_type: str
    time: str
    trace_id: str
    summary: str
    timestamp_ms: int


def _summary(payload: dict[str, Any]) -> str:
    interesting = (
        "plan_id",
        "provider",
        "amount",
        "provider_payment_id",
        "period_end",
        "panel_username",
        "subscription_url",
        "language",
        "catalog_version",
    )
    parts = []
    for name in interesting:
        if name in payload:
            value = payload[name]
            if isinstance(value, dict) and "amount_minor" in value:
                value = f"{value['amount_minor'] / 100:.2f} {value['currency']}"
            parts.append(f"{name}={value}")
    return ", ".join(parts)


async def read_topics(bootstrap: str) -> list[TopicRecord]:
    """Every record on the platform's topics, oldest first (read without a consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic.name, p) for topic in TOPICS for p in range(topic.partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[TopicRecord] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in partitions]
            if all(
                position >= ends[tp] for position, tp in zip(positions, partitions, strict=True)
            ):
                break
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(_record(message) for message in batch)
        return sorted(records, key=lambda r: r.timestamp_ms)
    finally:
        await consumer.stop()


def _record(message: Any) -> TopicRecord:
    headers = {name: value.decode("utf-8", "replace") for name, value in message.headers}
    traceparent = headers.get("traceparent", "")
    try:
        payload = json.loads(message.value)
    except ValueError:
        payload = {}
    return TopicRecord(
        topic=message.topic,
        key=(message.key or b"").decode("utf-8", "replace"),
        event_type=headers.get("ce_type", "?"),
        time=headers.get("ce_time", ""),
        trace_id=traceparent.split("-")[1] if traceparent.count("-") == 3 else "",
        summary=_summary(payload) if isinstance(payload, dict) else "",
        timestamp_ms=message.timestamp,
    )


def show_topics(records: Iterable[TopicRecord]) -> None:
    by_topic: dict[str, list[TopicRecord]] = {}
    for record in records:
        by_topic.setdefault(record.topic, []).append(record)
    for topic in (t.name for t in TOPICS):
        if topic not in by_topic:
            continue
        _out(f"\n  {topic}")
        for record in by_topic[topic]:
            _out(f"    {record.time[11:23]}  {record.event_type}")
            _out(f"        key={record.key}  trace={record.trace_id}")
            if record.summary:
                _out(f"        {record.summary}")


async def journey(runtime: LocalRuntime) -> str:
    """The customer's side; returns the payment id."""
    assert runtime.sandboxes is not None
    async with (
        runtime.sandboxes.telegram_control() as telegram,
        runtime.sandboxes.yookassa_control() as yookassa,
    ):
        customer = await SimulatedCustomer.join(telegram, yookassa, first_name="Анна")
        show_user("opens the bot with a referral link: /start ref_demo")
        show_bot(await customer.start("ref_demo"))
        show_user("presses «Купить VPN»")
        show_bot(await customer.open_catalog())
        show_user("chooses «1 месяц» and presses «Оплатить»")
        link = await customer.checkout("m1")
        show_bot(link.message)
        show_user(f"pays in YooKassa (payment {link.payment_id})")
        paid_at = time.monotonic()
        await customer.pay(link)
        access = await customer.wait_for("Доступ к VPN готов")
        show_bot(access)
        _out(f"\n  ⏱  access arrived {time.monotonic() - paid_at:.2f} s after payment")
        show_user("presses «Моя подписка»")
        await customer.start()
        show_bot(await customer.press("m:subscription", expect="Ваша подписка"))
        subscription_link(access)
        return link.payment_id


async def run() -> int:
    with tempfile.TemporaryDirectory(prefix="vpn-demo-") as workdir:
        log_path = Path(workdir) / "services.log"
        log_file = log_path.open("w")

        def to_file(service: str, line: str) -> None:
            log_file.write(f"{service:<12} {line}\n")

        runtime = LocalRuntime(
            data_dir=Path(workdir),
            say=lambda text: _out(f"  · {text}"),
            sink=to_file,
            durable=False,
            prefer_default_ports=False,
            log_format="json",
        )
        try:
            _out(RULE)
            _out(" Starting the platform (PostgreSQL, Kafka, sandboxes, five services)")
            _out(RULE)
            await runtime.start()
            _out(f"\n{RULE}\n What the customer sees in Telegram\n{RULE}")
            payment_id = await journey(runtime)
            await asyncio.sleep(1)  # the last events reach their topics
            assert runtime.platform is not None
            records = await read_topics(runtime.platform.kafka_bootstrap)
            _out(f"\n{RULE}\n Events on each topic ({runtime.broker_description})\n{RULE}")
            show_topics(records)
            purchase = [
                r
                for r in records
                # v2 since the gateway writes the raw body; v1 from older gateways
                if r.event_type.startswith("gateway.payment_notification.received.")
                and payment_id in r.key
            ]
            _out(f"\n{RULE}\n The purchase's trace\n{RULE}")
            if purchase and purchase[0].trace_id:
                trace_id = purchase[0].trace_id
                _out(f"  trace id {trace_id}: the payment notification and everything it caused")
                for record in records:
                    if record.trace_id == trace_id:
                        _out(f"    {record.event_type}  ({record.topic})")
            else:
                _out("  no trace id on the payment notification (tracing is off?)")
            _out(f"\n  service logs: {log_path} (removed when the demo ends)")
            return 0
        except Exception as exc:
            _out(f"\n  demo failed: {exc!r}")
            log_file.flush()
            _out("  last service log lines:")
            _out(_indent("\n".join(log_path.read_text().splitlines()[-30:]), "    "))
            return 1
        finally:
            _out("\n  · stopping")
            await runtime.stop()
            log_file.close()


async def _main() -> int:
    # SIGTERM cancels the run like Ctrl-C does, so everything started is stopped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run()


def main() -> None:
    raise SystemExit(asyncio.run(_main()))


if __name__ == "__main__":
    main()
