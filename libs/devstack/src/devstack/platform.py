"""The five services as separate OS processes, for ``make up``, the demo and e2e tests.

Given a PostgreSQL admin DSN and a Kafka bootstrap, :class:`Platform` creates each
service's role and database, runs each service's migrations, starts the services with
their logs prefixed by name, waits until every ``/readyz`` answers 200, and stops them
with SIGTERM (SIGKILL after a grace period), leaving no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from contracts.topics import SERVICES
from devstack._proc import LOOPBACK, _death_signal_preexec, free_port, kill_all, port_accepts
from devstack.postgres import ensure_database

log = logging.getLogger(__name__)

DEFAULT_PORTS: Mapping[str, int] = {
    "gateway": 8080,
    "bot": 8081,
    "billing": 8082,
    "provisioning": 8083,
    "notifier": 8084,
}

LineSink = Callable[[str, str], None]


class PlatformError(RuntimeError):
    pass


def _env_prefix(service: str) -> str:
    return f"{service.upper()}_"


def print_prefixed(service: str, line: str) -> None:
    """Default log sink: ``billing      | <line>``, coloured per service on a terminal."""
    colours = {"gateway": 36, "bot": 35, "billing": 33, "provisioning": 32, "notifier": 34}
    label = f"{service:<12}|"
    if sys.stdout.isatty():
        label = f"\x1b[{colours.get(service, 37)}m{label}\x1b[0m"
    sys.stdout.write(f"{label} {line}\n")
    sys.stdout.flush()


@dataclass
class ServiceProcess:
    name: str
    port: int
    proc: asyncio.subprocess.Process
    reader: asyncio.Task[None]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass
class Platform:
    admin_dsn: str
    kafka_bootstrap: str
    passwords: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    sink: LineSink = print_prefixed
    services: tuple[str, ...] = SERVICES
    stop_timeout: float = 30.0
    prefer_default_ports: bool = True
    log_format: str = "text"
    _running: dict[str, ServiceProcess] = field(default_factory=dict)
    _database_urls: dict[str, str] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {name: p.url for name, p in self._running.items()}

    def process(self, service: str) -> ServiceProcess:
        return self._running[service]

    def env_for(self, service: str) -> dict[str, str]:
        prefix = _env_prefix(service)
        # The operator's own settings (a real bot token, a shop) pass through; what the
        # platform must decide itself (database, broker, address) is set over them.
        env = dict(os.environ)
        env.update(
            {
                f"{prefix}DATABASE_URL": self._database_urls[service],
                f"{prefix}KAFKA_BOOTSTRAP": self.kafka_bootstrap,
                f"{prefix}HTTP_HOST": LOOPBACK,
                f"{prefix}LOG_FORMAT": self.log_format,
                f"{prefix}MIGRATE_ON_START": "false",
                # Five services share two cores and one PostgreSQL: keep the pools small.
                f"{prefix}DB_POOL_SIZE": "5",
                f"{prefix}DB_MAX_OVERFLOW": "5",
            }
        )
        env.update(self.extra_env)
        return env

    async def prepare(self) -> None:
        """Create every service's role and database, then apply its migrations."""
        for service in self.services:
            password = self.passwords.get(service) or secrets.token_hex(16)
            self._database_urls[service] = await ensure_database(self.admin_dsn, service, password)
        results = await asyncio.gather(*(self._migrate(s) for s in self.services))
        failed = [s for s, ok in zip(self.services, results, strict=True) if not ok]
        if failed:
            raise PlatformError(f"migrations failed for {', '.join(failed)} (see the log above)")

    async def _migrate(self, service: str) -> bool:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            service,
            "migrate",
            env=self.env_for(service),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        await self._pump(service, proc)
        return await proc.wait() == 0

    async def start(self, *, ready_within_s: float = 90.0) -> dict[str, str]:
        """Start every service and wait until all are ready; returns their base URLs."""
        for service in self.services:
            await self.start_service(service)
        await self.wait_ready(within_s=ready_within_s)
        return self.urls

    def database_url(self, service: str) -> str:
        """The service's own database, as its processes reach it (SQLAlchemy's asyncpg URL)."""
        return self._database_urls[service]

    async def start_service(self, service: str, *, replica: str | None = None) -> ServiceProcess:
        """Start ``service``; with ``replica``, one more process of it beside the others
        (known, and stopped, as ``<service>-<replica>``)."""
        name = f"{service}-{replica}" if replica else service
        port = (None if replica else self.ports.get(service)) or self._pick_port(service)
        env = self.env_for(service) | {f"{_env_prefix(service)}HTTP_PORT": str(port)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            service,
            "serve",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            # Own session: Ctrl-C reaches the supervisor, which stops services in order.
            start_new_session=True,
            preexec_fn=_death_signal_preexec(signal.SIGTERM),
        )
        reader = asyncio.create_task(self._pump(name, proc), name=f"log-{name}")
        running = ServiceProcess(name, port, proc, reader)
        self._running[name] = running
        return running

    def _pick_port(self, service: str) -> int:
        wanted = DEFAULT_PORTS.get(service)
        taken = {p.port for p in self._running.values()}
        if (
            self.prefer_default_ports
            and wanted
            and wanted not in taken
            and not port_accepts(LOOPBACK, wanted)
        ):
            return wanted
        return free_port()

    async def wait_ready(self, *, within_s: float = 90.0) -> None:
        deadline = asyncio.get_running_loop().time() + within_s
        pending = set(self._running)
        async with httpx.AsyncClient(timeout=2.0) as client:
            while pending:
                for service in list(pending):
                    running = self._running[service]
                    if running.proc.returncode is not None:
                        raise PlatformError(
                            f"{service} exited with status {running.proc.returncode} while starting"
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        response = await client.get(f"{running.url}/readyz")
                        if response.status_code == 200:
                            pending.discard(service)
                if pending and asyncio.get_running_loop().time() > deadline:
                    raise PlatformError(
                        f"not ready after {within_s:.0f}s: {', '.join(sorted(pending))}"
                    )
                if pending:
                    await asyncio.sleep(0.25)

    async def wait_for_exit(self) -> tuple[str, int]:
        """Block until any service exits; returns its name and status."""
        waits = {asyncio.create_task(p.proc.wait()): name for name, p in self._running.items()}
        done, others = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in others:
            task.cancel()
        task = done.pop()
        return waits[task], task.result()

    async def stop_service(self, service: str, *, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop one service (SIGTERM: graceful; SIGKILL: a crash) and return its exit status."""
        running = self._running.pop(service)
        proc = running.proc
        try:
            descendants = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), timeout=self.stop_timeout)
            except TimeoutError:
                log.warning("%s ignored SIGTERM for %.0fs; killing it", service, self.stop_timeout)
                proc.kill()
                await proc.wait()
        kill_all(descendants)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running.reader, timeout=5)
        return proc.returncode if proc.returncode is not None else -1

    async def stop(self) -> dict[str, int]:
        """Stop every service gracefully, in parallel; returns exit statuses."""
        names = list(self._running)
        statuses = await asyncio.gather(*(self.stop_service(n) for n in names))
        return dict(zip(names, statuses, strict=True))

    async def _pump(self, service: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            self.sink(service, line.decode("utf-8", errors="replace").rstrip())


def load_passwords(path: Path) -> dict[str, str]:
    """Stable per-service database passwords for the local runtime (kept in ``.data``)."""
    import json

    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
    else:
        stored = {}
    changed = False
    for service in SERVICES:
        if service not in stored:
            stored[service] = secrets.token_hex(16)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored
