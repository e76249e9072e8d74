from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from devstack._proc import free_port
from devstack.customer import SimulatedCustomer
from devstack.platform import Platform
from devstack.pytest_plugin import KafkaInfo
from devstack.sandboxes import Sandboxes
from sandbox.cryptopay import CryptoPaySandboxControl
from sandbox.marzban import MarzbanSandboxControl
from sandbox.telegram import TelegramSandboxControl
from sandbox.wata import WataSandboxControl
from sandbox.yookassa import YooKassaSandboxControl

GRACE = timedelta(hours=48)
"""The grace after a paid end that the shop runs with (the product's default): the panel's
expiry is the paid end plus it."""


class LogRecorder:
    """Keeps every line the services print, to assert on their logs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, service: str, line: str) -> None:
        self.lines.append((service, line))

    def warnings(self, last: int = 60) -> str:
        """The last WARNING-or-worse lines (JSON logs), one per line, for failure reports."""
        picked = [
            f"{service:<12} {line}"
            for service, line in self.lines
            if '"level": "warning"' in line or '"level": "error"' in line or "Traceback" in line
        ]
        return "\n".join(picked[-last:]) or "(none)"


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


@dataclass
class Shop:
    """The platform selling VPN through the sandboxes: what an end-to-end test drives."""

    platform: Platform
    sandboxes: Sandboxes
    telegram: TelegramSandboxControl
    yookassa: YooKassaSandboxControl
    marzban: MarzbanSandboxControl
    logs: LogRecorder
    wata: WataSandboxControl
    cryptopay: CryptoPaySandboxControl

    async def customer(self, *, language_code: str | None = "ru") -> SimulatedCustomer:
        return await SimulatedCustomer.join(
            self.telegram,
            self.yookassa,
            wata=self.wata,
            cryptopay=self.cryptopay,
            language_code=language_code,
        )


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def shop(
    postgres_admin_dsn: str, kafka: KafkaInfo, request: pytest.FixtureRequest
) -> AsyncIterator[Shop]:
    """Every service as its own process, wired to the Telegram, YooKassa and Marzban sandboxes.

    A test module's ``SHOP_ENV`` (a dict) adds or overrides settings for its platform; its
    ``CLOCK_FILE`` (a path) puts the services, YooKassa and the panel on one clock that the
    test moves (``chassis.clock.OffsetClock.move``).
    """
    gateway_port = free_port()
    sandboxes = Sandboxes(
        gateway_url=f"http://127.0.0.1:{gateway_port}",
        clock_file=getattr(request.module, "CLOCK_FILE", None),
    )
    await sandboxes.start()
    logs = LogRecorder()
    running = Platform(
        admin_dsn=postgres_admin_dsn,
        kafka_bootstrap=kafka.bootstrap,
        sink=logs,
        ports={"gateway": gateway_port},
        extra_env=sandboxes.service_env()
        | {
            # Fast retries, so that outage tests take seconds, not minutes.
            "PROVISIONING_RETRY_FIRST_DELAY_S": "0.2",
            "PROVISIONING_RETRY_MAX_DELAY_S": "1",
            "PROVISIONING_WORKER_POLL_INTERVAL_S": "0.5",
            "PROVISIONING_REPORT_FAILURE_AFTER_ATTEMPTS": "2",
            "PROVISIONING_MARZBAN_TIMEOUT_S": "1.5",
            "PROVISIONING_WORKER_LEASE_S": "5",
            "PROVISIONING_PANEL_WATCH_INTERVAL_S": "0.5",
            # Panels probed and re-read each second: a panel's outage and its return, and
            # an operator's change, are seen at once.
            "PROVISIONING_HEALTH_PROBE_INTERVAL_S": "1",
            "PROVISIONING_DIRECTORY_REFRESH_S": "1",
            # Short ingress deadlines, so that slow-header and slow-body attacks take seconds.
            "GATEWAY_HTTP_HEADER_TIMEOUT_S": "2",
            "GATEWAY_HTTP_BODY_TIMEOUT_S": "2",
        }
        | getattr(request.module, "SHOP_ENV", {})
        # Most modules read the panel user from the panel's own link; a module that sets
        # ``STABLE_LINKS = True`` gives customers the gateway's /sub/{token}, as make up does.
        | ({} if getattr(request.module, "STABLE_LINKS", False) else PANEL_LINKS),
        prefer_default_ports=False,
        log_format="json",
    )
    try:
        await running.prepare()
        await running.start(ready_within_s=120)
        async with (
            sandboxes.telegram_control() as telegram,
            sandboxes.yookassa_control() as yookassa,
            sandboxes.marzban_control() as marzban,
            sandboxes.wata_control() as wata,
            sandboxes.cryptopay_control() as cryptopay,
        ):
            yield Shop(running, sandboxes, telegram, yookassa, marzban, logs, wata, cryptopay)
    finally:
        await running.stop()
        await sandboxes.stop()


PANEL_LINKS = {"PROVISIONING_LINK_BASE_URL": ""}
"""Customers given the panel's own link (stable links off)."""


def panel_username(link: str) -> str:
    """Marzban's subscription token is base64url("<username>,<ts>") plus a signature."""
    token = link.rsplit("/", 1)[-1]
    encoded = token[:-10]
    decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return decoded.split(",")[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On failure, show what the services logged at WARNING and above: the why."""
    report = yield
    if report.failed and call.when == "call":
        fixture = getattr(item, "funcargs", {}).get("shop")
        if isinstance(fixture, Shop):
            report.sections.append(("service warnings", fixture.logs.warnings()))
    return report


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout_s: float = 20.0
) -> None:
    """Poll ``condition`` (plain or async) until it holds; TimeoutError after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        outcome = condition()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


def counted(metrics: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus counter over the series that carry ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        series, value = line.rsplit(" ", 1)
        if all(f'{key}="{wanted}"' in series for key, wanted in labels.items()):
            total += float(value)
    return total


async def metric(shop: Shop, service: str, name: str, **labels: str) -> float:
    """``counted`` over what ``service`` exports right now."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{shop.platform.urls[service]}/metrics")).text
    return counted(text, name, **labels)


@dataclass(frozen=True)
class Command:
    status: int
    stdout: str
    stderr: str


async def billing_command(shop: Shop, *args: str) -> Command:
    """``python -m billing <args>``, run as an operator would, beside the running service."""
    return await service_command(shop, "billing", *args)


async def service_command(shop: Shop, service: str, *args: str) -> Command:
    """``python -m <service> <args>`` with the running service's settings."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        service,
        *args,
        env=shop.platform.env_for(service),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return Command(proc.returncode, out.decode().strip(), err.decode())
