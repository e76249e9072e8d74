"""Readiness probing shared by the Kafka brokers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from devstack._proc import ManagedProcess, port_accepts

logger = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """A Kafka broker could not be prepared, started or stopped."""


class BrokerPortTaken(BrokerError):
    """The broker could not bind its port (another process took it after we picked it)."""


async def metadata_ready(bootstrap: str, probe_timeout: float = 3.0) -> bool:
    """True if the broker at ``bootstrap`` answers a metadata request listing itself."""
    host, _, port = bootstrap.rpartition(":")
    if not port_accepts(host, int(port)):
        return False
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(probe_timeout * 1000),
        client_id="devstack-probe",
    )
    try:
        await asyncio.wait_for(admin.start(), probe_timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), probe_timeout)
    except Exception as exc:  # any failure just means "not yet"
        logger.debug("broker %s not ready: %r", bootstrap, exc)
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return bool(cluster.get("brokers")) and cluster.get("controller_id", -1) != -1


def log_size(path: Path) -> int:
    """Current size of a log file (0 if missing): where a new process's output will start."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(offset, path.stat().st_size - 64 * 1024))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


async def wait_until_ready(
    bootstrap: str,
    proc: ManagedProcess,
    *,
    startup_timeout: float,
    log_path: Path,
    log_offset: int,
    bind_error_markers: tuple[str, ...],
) -> None:
    """Poll until the broker answers metadata.

    Fails fast if the process exits, and raises :class:`BrokerPortTaken` as soon as the
    output written since ``log_offset`` reports a bind failure (the caller stops ``proc``).
    """
    deadline = time.monotonic() + startup_timeout
    while True:
        output = _read_from(log_path, log_offset)
        if any(marker in output for marker in bind_error_markers):
            raise BrokerPortTaken(f"{proc.name} could not bind its port:\n{_last(output)}")
        if not proc.running:
            raise BrokerError(
                f"{proc.name} exited with code {proc.poll()} during startup; "
                f"log {log_path}:\n{_last(output)}"
            )
        if await metadata_ready(bootstrap):
            return
        if time.monotonic() > deadline:
            raise BrokerError(
                f"{proc.name} at {bootstrap} not ready after {startup_timeout:.0f}s; "
                f"log {log_path}:\n{_last(_read_from(log_path, log_offset))}"
            )
        await asyncio.sleep(0.2)


def _last(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])
