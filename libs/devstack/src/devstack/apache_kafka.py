"""Real Apache Kafka (single KRaft node) for tests and CI, fetched from Maven Central.

The broker's runtime classpath is described by ``libs/devstack/maven/kafka/pom.xml`` and
copied into ``<cache_dir>/kafka-<version>/libs`` by Maven once; the broker then runs as
``java -cp 'libs/*' kafka.Kafka server.properties``. No Kafka distribution tarball and no
Docker are needed, only Java 17+ and Maven.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import functools
import hashlib
import logging
import re
import shutil
import signal
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from devstack._kafka import BrokerError, BrokerPortTaken, log_size, wait_until_ready
from devstack._proc import LOOPBACK, LocalServer, ManagedProcess, free_port, tail
from devstack.paths import default_cache_dir, default_data_dir

__all__ = [
    "POM_PATH",
    "ApacheKafka",
    "BrokerError",
    "ensure_kafka",
    "kafka_version",
]

logger = logging.getLogger(__name__)

#: The Maven project whose runtime dependencies form the broker classpath.
POM_PATH = Path(__file__).resolve().parents[2] / "maven" / "kafka" / "pom.xml"
_MARKER = ".complete"
_MIN_JAVA = 17
_MVN_TIMEOUT = 900.0
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_OWNED_FILES = ("server.properties", "log4j2.properties")

DEFAULT_JVM_OPTS: tuple[str, ...] = (
    "-Xms128m",
    "-Xmx512m",
    # Serial GC: least overhead for a small heap on a 2-core box.
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

_LOG4J2 = """\
# Written by devstack: quiet broker logs, to a file in the data directory.
status = warn
# Kafka stops itself from its own shutdown hook; a second one from log4j only adds noise.
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
# Keep the "started" line and similar lifecycle messages.
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
"""


@functools.cache
def kafka_version(pom: Path = POM_PATH) -> str:
    """The Apache Kafka version pinned in ``pom`` (the ``kafka.version`` property)."""
    root = ET.parse(pom).getroot()  # noqa: S314 -- our own file, not untrusted input
    node = root.find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise BrokerError(f"{pom} does not define the kafka.version property")
    return (node.text or "").strip()


def _require_tool(name: str, purpose: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BrokerError(
            f"`{name}` not found on PATH; it is needed to {purpose}. "
            "Install a JDK 17+ and Apache Maven (e.g. `apt-get install openjdk-17-jdk-headless "
            "maven`), or use the embedded Tansu broker (kind='tansu') instead."
        )
    return found


@functools.cache
def _java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(?:1\.)?(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else 0


def _require_java() -> str:
    java = _require_tool("java", "run the Kafka broker")
    major = _java_major(java)
    if major < _MIN_JAVA:
        raise BrokerError(
            f"Apache Kafka {kafka_version()} needs Java {_MIN_JAVA}+, but `{java}` is "
            f"Java {major or 'of unknown version'}; install a newer JDK or use kind='tansu'"
        )
    return java


def ensure_kafka(cache_dir: Path | None = None, *, pom: Path = POM_PATH) -> Path:
    """Make sure the Kafka broker jars are in ``<cache_dir>/kafka-<version>/libs``.

    Runs ``mvn dependency:copy-dependencies`` the first time (or when the POM changed) and
    does nothing afterwards: a marker file holding the POM's hash records a complete copy.
    Safe against concurrent callers (file lock). Returns ``<cache_dir>/kafka-<version>``.
    """
    version = kafka_version(pom)
    home = (cache_dir or default_cache_dir()) / f"kafka-{version}"
    libs = home / "libs"
    marker = home / _MARKER
    stamp = hashlib.sha256(pom.read_bytes()).hexdigest()

    def complete() -> bool:
        return libs.is_dir() and marker.is_file() and marker.read_text().strip() == stamp

    if complete():
        return home
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if complete():
            return home
        mvn = _require_tool("mvn", "download Apache Kafka from Maven Central")
        _require_tool("java", "run Maven and the Kafka broker")
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        logger.info("fetching Apache Kafka %s with Maven into %s", version, libs)
        try:
            result = subprocess.run(
                cmd, capture_output=True, text=True, timeout=_MVN_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(f"mvn did not finish within {_MVN_TIMEOUT:.0f}s") from exc
        if result.returncode != 0:
            raise BrokerError(
                f"mvn failed (exit {result.returncode}) fetching Kafka {version}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        if not any(staging.glob(f"kafka_*-{version}.jar")):
            raise BrokerError(f"mvn succeeded but {staging} holds no kafka_*-{version}.jar")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        marker.write_text(stamp + "\n")
        logger.info("Apache Kafka %s ready in %s", version, libs)
    return home


def _random_cluster_id() -> str:
    # Kafka's Uuid.toString(): URL-safe base64 without padding; a leading '-' confuses CLIs.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class ApacheKafka(LocalServer):
    """A single combined broker+controller Apache Kafka node (KRaft) on loopback ports.

    Settings favour fast tests: no initial rebalance delay, replication factor 1 for
    internal topics, few internal partitions, small heap. Logs go to
    ``<data_dir>/logs/server.log``. Unless ``keep_data`` is set, the data directory is
    wiped on start. The JVM is stopped by :meth:`stop`, at interpreter exit, and (when
    started from the main thread on Linux) when this process dies.
    """

    not_started_error = BrokerError

    name = "apache-kafka"

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        cache_dir: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        auto_create_topics: bool = False,
        num_partitions: int = 1,
        properties: Mapping[str, str] | None = None,
        jvm_opts: Sequence[str] = DEFAULT_JVM_OPTS,
        keep_data: bool = False,
        startup_timeout: float = 120.0,
    ) -> None:
        self.data_dir = Path(data_dir or default_data_dir() / "kafka-apache").absolute()
        self.host = LOOPBACK
        self.auto_create_topics = auto_create_topics
        self.num_partitions = num_partitions
        self._cache_dir = cache_dir
        self._requested_port = port
        self._requested_controller_port = controller_port
        self._properties = dict(properties or {})
        self._jvm_opts = tuple(jvm_opts)
        self._keep_data = keep_data
        self._startup_timeout = startup_timeout
        self._port: int | None = None
        self._proc: ManagedProcess | None = None

    @property
    def version(self) -> str:
        """Apache Kafka version, e.g. ``"4.4.0"``."""
        return kafka_version()

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"`` for ``bootstrap_servers``."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """The broker's log4j log file."""
        return self.data_dir / "logs" / "server.log"

    async def start(self) -> None:
        """Fetch Kafka if needed, format KRaft storage, start the node, wait for metadata."""
        if self.running:
            return
        home = await asyncio.to_thread(ensure_kafka, self._cache_dir)
        java = _require_java()
        self._prepare_data_dir()
        auto_ports = self._requested_port is None and self._requested_controller_port is None
        attempts = 3 if auto_ports else 1
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port()
            controller_port = self._requested_controller_port or free_port()
            while controller_port == port:
                controller_port = free_port()
            config = self._write_config(port, controller_port)
            await self._format(java, home, config)
            try:
                await self._spawn(java, home, config, port)
                return
            except BrokerPortTaken:
                if attempt == attempts:
                    raise
                logger.info("Kafka ports %d/%d taken meanwhile; retrying", port, controller_port)

    async def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (controlled shutdown), then SIGKILL after ``grace`` seconds."""
        proc, self._proc = self._proc, None
        if proc is not None:
            await asyncio.to_thread(proc.stop, grace)
            logger.info("apache-kafka on %s stopped", self._port)

    async def __aenter__(self) -> ApacheKafka:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _prepare_data_dir(self) -> None:
        data = self.data_dir
        if data.exists() and not self._keep_data and any(data.iterdir()):
            if not any((data / name).exists() for name in _OWNED_FILES):
                raise BrokerError(
                    f"refusing to wipe {data}: it is not empty and was not created by devstack"
                )
            shutil.rmtree(data)
        (data / "logs").mkdir(parents=True, exist_ok=True)

    def _write_config(self, port: int, controller_port: int) -> Path:
        props: dict[str, str] = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{port},CONTROLLER://{self.host}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "kraft"),
            "num.partitions": str(self.num_partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": str(self.auto_create_topics).lower(),
            "delete.topic.enable": "true",
            "group.initial.rebalance.delay.ms": "0",
            # Let tests use short consumer sessions (default minimum: 6 s).
            "group.min.session.timeout.ms": "500",
            "offsets.topic.replication.factor": "1",
            # 50 partitions by default: creating them delays the first group join.
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            **self._properties,
        }
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2.format(log_file=self.log_path))
        return config

    def _java_cmd(
        self, java: str, home: Path, *args: str, extra_opts: Sequence[str] = ()
    ) -> list[str]:
        return [
            java,
            *self._jvm_opts,
            *extra_opts,
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.log_path.parent}",
            "-cp",
            f"{home / 'libs'}/*",
            *args,
        ]

    async def _format(self, java: str, home: Path, config: Path) -> None:
        if (self.data_dir / "kraft" / "meta.properties").is_file():
            return
        cmd = self._java_cmd(
            java,
            home,
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            _random_cluster_id(),
            "--config",
            str(config),
            "--ignore-formatted",
            # A one-shot tool: the C1 compiler alone starts it ~30% faster.
            extra_opts=("-XX:TieredStopAtLevel=1",),
        )
        result = await asyncio.to_thread(
            subprocess.run, cmd, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise BrokerError(
                f"formatting KRaft storage failed (exit {result.returncode}):\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )

    async def _spawn(self, java: str, home: Path, config: Path, port: int) -> None:
        log_offset = log_size(self.log_path)
        proc = ManagedProcess(
            self._java_cmd(java, home, "kafka.Kafka", str(config)),
            name="apache-kafka",
            log_path=self.data_dir / "logs" / "stdout.log",
            cwd=self.data_dir,
            stop_signal=signal.SIGTERM,
            stop_timeout=20.0,
        )
        self._port = port
        try:
            await wait_until_ready(
                self.bootstrap,
                proc,
                startup_timeout=self._startup_timeout,
                log_path=self.log_path,
                log_offset=log_offset,
                bind_error_markers=("Address already in use", "BindException"),
            )
        except BaseException:
            await asyncio.to_thread(proc.stop, 5.0)
            self._port = None
            stdout = tail(self.data_dir / "logs" / "stdout.log")
            if stdout:
                logger.error("apache-kafka stdout/stderr:\n%s", stdout)
            raise
        self._proc = proc
        logger.info(
            "apache-kafka %s ready on %s (data %s)", self.version, self.bootstrap, self.data_dir
        )
