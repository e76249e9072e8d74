"""The five services boot as separate processes, report health, and stop cleanly."""

from __future__ import annotations

import asyncio
import importlib
import json
import signal
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.topics import SERVICES
from devstack.platform import Platform

from .conftest import LogRecorder

pytestmark = pytest.mark.e2e


async def test_every_service_is_ready_and_serves_health_and_metrics(platform: Platform) -> None:
    assert set(platform.urls) == set(SERVICES)
    async with httpx.AsyncClient(timeout=5) as client:
        for service, url in platform.urls.items():
            ready = await client.get(f"{url}/readyz")
            assert ready.status_code == 200, service
            assert ready.json() == {
                "status": "ready",
                "checks": {"database": "ok", "kafka": "ok"},
            }
            assert (await client.get(f"{url}/healthz")).json() == {"status": "ok"}
            # Readiness does not wait for the relay lock (a standby replica is ready too):
            # the one replica takes it moments after connecting to Kafka.
            active = f'outbox_relay_active{{service="{service}"}} 1.0'
            for _ in range(100):
                if active in (await client.get(f"{url}/metrics")).text:
                    break
                await asyncio.sleep(0.1)
            assert active in (await client.get(f"{url}/metrics")).text


async def test_each_service_migrated_its_own_database(platform: Platform) -> None:
    for service in SERVICES:
        url = platform.env_for(service)[f"{service.upper()}_DATABASE_URL"]
        assert url.rsplit("/", 1)[-1] == service
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        assert {"outbox", "inbox", "alembic_version"} <= tables, service


async def test_services_log_json_without_secrets(platform: Platform) -> None:
    assert isinstance(platform.sink, LogRecorder)
    assert platform.sink.lines, "services logged something"
    for service, line in platform.sink.lines:
        entry = json.loads(line)
        assert entry["service"] == service
        password = platform.env_for(service)[f"{service.upper()}_DATABASE_URL"]
        assert password.split(":")[2].split("@")[0] not in line


async def test_sigkilled_service_comes_back_and_sigterm_exits_cleanly(platform: Platform) -> None:
    assert await platform.stop_service("billing", sig=signal.SIGKILL) == -signal.SIGKILL
    await platform.start_service("billing")
    await platform.wait_ready(within_s=60)

    pids = {name: platform.process(name).proc.pid for name in SERVICES}
    statuses = await platform.stop()
    assert statuses == dict.fromkeys(SERVICES, 0), "graceful stop on SIGTERM"
    assert not [pid for pid in pids.values() if psutil.pid_exists(pid)]


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_the_models(platform: Platform, service: str) -> None:
    """What Alembic built is what the code declares: no drift between the two."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    models = importlib.import_module(f"{service}.models")
    url = platform.env_for(service)[f"{service.upper()}_DATABASE_URL"]
    engine = create_async_engine(url)

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, models.metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []
