from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from devstack.platform import Platform
from devstack.pytest_plugin import KafkaInfo


class LogRecorder:
    """Keeps every line the services print, to assert on their logs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, service: str, line: str) -> None:
        self.lines.append((service, line))


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def platform(postgres_admin_dsn: str, kafka: KafkaInfo) -> AsyncIterator[Platform]:
    """The five services as separate processes on the test PostgreSQL and Kafka."""
    running = Platform(
        admin_dsn=postgres_admin_dsn,
        kafka_bootstrap=kafka.bootstrap,
        sink=LogRecorder(),
        # Tests may run beside `make up`: never take the default ports.
        prefer_default_ports=False,
        log_format="json",
    )
    await running.prepare()
    await running.start(ready_within_s=120)
    yield running
    await running.stop()
