"""One interface over the two local Kafka brokers: Apache Kafka (JVM) and Tansu (embedded)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from devstack._kafka import BrokerError
from devstack.apache_kafka import ApacheKafka
from devstack.tansu import TansuBroker

__all__ = [
    "BROKER_ENV_VAR",
    "BrokerError",
    "BrokerKind",
    "KafkaBroker",
    "broker_kind_from_env",
    "create_broker",
    "start_broker",
]

BrokerKind = Literal["apache", "tansu"]
#: Environment variable naming the broker kind (``apache`` or ``tansu``).
BROKER_ENV_VAR = "DEVSTACK_KAFKA"


@runtime_checkable
class KafkaBroker(Protocol):
    """A local Kafka-compatible broker process."""

    @property
    def name(self) -> str:
        """``"apache-kafka"`` or ``"tansu"``."""
        ...

    @property
    def version(self) -> str:
        """Broker software version."""
        ...

    @property
    def bootstrap(self) -> str:
        """``"HOST:PORT"`` for ``bootstrap_servers`` (only valid once started)."""
        ...

    @property
    def pid(self) -> int | None:
        """Broker process id while running."""
        ...

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        ...

    async def start(self) -> None:
        """Start the broker and wait until it answers metadata requests."""
        ...

    async def stop(self, grace: float = ...) -> None:
        """Stop the broker (SIGKILL after ``grace`` seconds); never leaves its process behind."""
        ...


def broker_kind_from_env(default: BrokerKind = "tansu") -> BrokerKind:
    """The broker kind named by ``$DEVSTACK_KAFKA``, else ``default``."""
    value = os.environ.get(BROKER_ENV_VAR, "").strip().lower() or default
    if value == "apache":
        return "apache"
    if value == "tansu":
        return "tansu"
    raise ValueError(f"${BROKER_ENV_VAR} must be 'apache' or 'tansu', not {value!r}")


def create_broker(
    kind: BrokerKind,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    port: int | None = None,
    auto_create_topics: bool | None = None,
) -> KafkaBroker:
    """Build (without starting) a broker of ``kind``.

    ``auto_create_topics=None`` keeps the broker's default: off for Apache Kafka; Tansu
    always auto-creates. ``cache_dir`` only matters for Apache Kafka (Maven download).
    """
    if kind == "apache":
        return ApacheKafka(
            data_dir,
            cache_dir=cache_dir,
            port=port,
            auto_create_topics=bool(auto_create_topics),
        )
    if kind == "tansu":
        return TansuBroker(
            data_dir,
            port=port,
            auto_create_topics=True if auto_create_topics is None else auto_create_topics,
        )
    raise ValueError(f"unknown broker kind {kind!r}; expected 'apache' or 'tansu'")


async def start_broker(
    kind: BrokerKind,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    port: int | None = None,
    auto_create_topics: bool | None = None,
) -> KafkaBroker:
    """Create a broker of ``kind`` (see :func:`create_broker`), start it and return it."""
    broker = create_broker(
        kind,
        data_dir=data_dir,
        cache_dir=cache_dir,
        port=port,
        auto_create_topics=auto_create_topics,
    )
    await broker.start()
    return broker
