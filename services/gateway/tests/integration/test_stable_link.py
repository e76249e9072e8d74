"""The stable link's read model and endpoint, in a real, migrated database: what
provisioning's events make ``/sub/{token}`` answer."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
import yaml
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from chassis.db import session_factory, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.migrations import upgrade_to_head_async
from contracts.envelope import Envelope, Event
from contracts.provisioning import AccessGranted, AccessLinkIssued, AccessStatusChanged
from devstack.pytest_plugin import DatabaseFactory
from gateway.links import projection
from gateway.links.endpoints import subscription_router
from gateway.models import messaging

pytestmark = pytest.mark.integration

NL_1 = "vless://3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d@nl-1.example:443?security=tls&type=ws&path=%2Fv&host=nl-1.example&sni=nl-1.example#NL%201"
NL_2 = "trojan://s3cret@nl-2.example:443?security=tls&type=tcp&sni=nl-2.example#NL%202"


@pytest_asyncio.fixture(loop_scope="session")
async def sessions(
    database_factory: DatabaseFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await database_factory("gateway")
    await upgrade_to_head_async("gateway:migrations", url)
    engine = create_async_engine(url)
    yield session_factory(engine)
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(subscription_router(sessions, title="Быстрый VPN", support_url=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


class Provisioning:
    """Provisioning's events as the gateway's consumer hands them over."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.customer = uuid.uuid4()
        self.subscription = uuid.uuid4()

    async def _deliver(self, event: Event) -> None:
        async with transaction(self._sessions) as session:
            ctx = MessageContext(
                session=session,
                envelope=Envelope.for_event(event, source="/vpn/provisioning"),
                outbox=Outbox(messaging, source="/vpn/gateway"),
                topic=event.topic.name,
                partition=0,
                offset=0,
            )
            if isinstance(event, AccessLinkIssued):
                await projection.record_link(event, ctx)
            elif isinstance(event, AccessGranted):
                await projection.record_access(event, ctx)
            else:
                assert isinstance(event, AccessStatusChanged)
                await projection.record_status(event, ctx)

    async def issue(self, version: int = 1) -> str:
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes[:8]).decode()
        token = token.rstrip("=")
        await self._deliver(
            AccessLinkIssued(
                customer_id=self.customer,
                link_token=token,
                link_version=version,
                replaced=version > 1,
                issued_at=datetime.now(UTC),
            )
        )
        return token

    async def grant(
        self, links: tuple[str, ...], *, expires_in: timedelta = timedelta(days=30)
    ) -> None:
        await self._deliver(
            AccessGranted(
                subscription_id=self.subscription,
                customer_id=self.customer,
                region="nl",
                panel_id="nl-1",
                panel_username="vpn_abc",
                subscription_url="https://nl-1.example/sub/abc",
                expires_at=datetime.now(UTC) + expires_in,
                traffic_limit_bytes=50 * 1024**3,
                links=links,
            )
        )

    async def status(self, status: str, used: int = 0) -> None:
        await self._deliver(
            AccessStatusChanged(
                subscription_id=self.subscription,
                customer_id=self.customer,
                status=status,
                used_traffic_bytes=used,
                traffic_limit_bytes=50 * 1024**3,
                observed_at=datetime.now(UTC),
            )
        )


def links_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return base64.b64decode(response.text).decode().splitlines() if response.text else []


@pytest.fixture
def provisioning(sessions: async_sessionmaker[AsyncSession]) -> Provisioning:
    return Provisioning(sessions)


async def test_the_same_link_serves_the_new_panel_after_a_move(
    provisioning: Provisioning, client: httpx.AsyncClient
) -> None:
    token = await provisioning.issue()
    await provisioning.grant((NL_1,))
    assert links_of(await client.get(f"/sub/{token}")) == [NL_1]

    await provisioning.grant((NL_2,))  # a failover: the same subscription, another panel

    response = await client.get(f"/sub/{token}", headers={"User-Agent": "v2rayNG/1.8.19"})
    assert links_of(response) == [NL_2]
    info = dict(part.split("=") for part in response.headers["subscription-userinfo"].split("; "))
    assert info["total"] == str(50 * 1024**3)
    assert int(info["expire"]) > datetime.now(UTC).timestamp()
    assert response.headers["profile-title"].startswith("base64:")
    assert response.headers["cache-control"] == "no-store"


async def test_each_client_gets_its_own_document(
    provisioning: Provisioning, client: httpx.AsyncClient
) -> None:
    token = await provisioning.issue()
    await provisioning.grant((NL_1, NL_2))

    clash = await client.get(f"/sub/{token}", headers={"User-Agent": "clash-verge/v1.6"})
    sing_box = await client.get(f"/sub/{token}", headers={"User-Agent": "SFA/1.9.0"})
    asked = await client.get(f"/sub/{token}/sing-box")

    assert [p["server"] for p in yaml.safe_load(clash.text)["proxies"]] == [
        "nl-1.example",
        "nl-2.example",
    ]
    outbounds = json.loads(sing_box.text)["outbounds"]
    assert {o["type"] for o in outbounds} >= {"vless", "trojan", "selector"}
    assert asked.text == sing_box.text
    assert (await client.get(f"/sub/{token}?format=wireguard")).status_code == 400


async def test_a_revoked_or_unknown_token_gets_a_bare_404(
    provisioning: Provisioning, client: httpx.AsyncClient
) -> None:
    old = await provisioning.issue(version=1)
    await provisioning.grant((NL_1,))
    new = await provisioning.issue(version=2)

    revoked = await client.get(f"/sub/{old}")
    assert (revoked.status_code, revoked.text) == (404, "Not Found")
    assert links_of(await client.get(f"/sub/{new}")) == [NL_1]
    for probe in ("A" * 32, "short", "with%20space", "x" * 200):
        response = await client.get(f"/sub/{probe}")
        assert (response.status_code, response.text) == (404, "Not Found")


async def test_an_older_token_read_late_does_not_come_back(
    provisioning: Provisioning, client: httpx.AsyncClient
) -> None:
    newer = await provisioning.issue(version=3)
    late = await provisioning.issue(version=2)
    await provisioning.grant((NL_1,))

    assert (await client.get(f"/sub/{late}")).status_code == 404
    assert links_of(await client.get(f"/sub/{newer}")) == [NL_1]


async def test_access_taken_away_is_not_served_but_the_link_still_answers(
    provisioning: Provisioning, client: httpx.AsyncClient
) -> None:
    token = await provisioning.issue()
    await provisioning.grant((NL_1,))

    await provisioning.status("limited", used=50 * 1024**3)
    assert links_of(await client.get(f"/sub/{token}")) == [NL_1]  # out of traffic: still shown
    await provisioning.status("disabled")
    assert links_of(await client.get(f"/sub/{token}")) == []
    await provisioning.grant((NL_1,))  # paid again
    assert links_of(await client.get(f"/sub/{token}")) == [NL_1]
    await provisioning.status("removed")
    assert links_of(await client.get(f"/sub/{token}")) == []


async def test_an_expired_access_is_not_served(
    provisioning: Provisioning, client: httpx.AsyncClient
) -> None:
    token = await provisioning.issue()
    await provisioning.grant((NL_1,), expires_in=timedelta(seconds=-1))
    assert links_of(await client.get(f"/sub/{token}")) == []
