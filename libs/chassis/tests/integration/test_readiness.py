"""``/readyz`` follows the database: unavailable while it is gone, ready once it is back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from devstack.faults import TcpProxy
from devstack.pytest_plugin import KafkaInfo

from .conftest import Ledger, eventually
from .ledger import build

pytestmark = pytest.mark.integration


async def test_readyz_turns_unhealthy_without_the_database_and_back(
    ledger_db: Ledger, kafka: KafkaInfo
) -> None:
    url = make_url(ledger_db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    service = build(ledger_db.settings(kafka.bootstrap, database_url=through_proxy))
    await service.start()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app), base_url="http://svc"
    )

    async def readyz() -> tuple[int, Any]:
        response = await client.get("/readyz")
        return response.status_code, response.json()

    async def status_is(code: int) -> bool:
        return (await readyz())[0] == code

    try:
        await eventually(lambda: status_is(200), what="ready with database and Kafka")
        assert (await client.get("/healthz")).status_code == 200

        await proxy.cut()
        await eventually(lambda: status_is(503), what="unavailable without the database")
        _, body = await readyz()
        assert body["checks"]["database"] != "ok"
        assert body["checks"]["kafka"] == "ok"
        assert (await client.get("/healthz")).status_code == 200, "the process itself is fine"

        await proxy.restore()
        await eventually(lambda: status_is(200), what="ready again after the database returns")
    finally:
        await client.aclose()
        await service.stop()
        await proxy.stop()
