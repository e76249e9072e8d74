"""Child-process plumbing shared by the local servers: ports, spawning, guaranteed teardown."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import psutil

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that was free on ``host`` a moment ago (bind to port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(host: str, port: int, timeout: float = 0.25) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path | None, lines: int = 40) -> str:
    """Last ``lines`` lines of a log file, for error messages ("" if unreadable)."""
    if path is None:
        return ""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _death_signal_preexec(sig: signal.Signals) -> Callable[[], None] | None:
    """Ask Linux to signal the child when its parent dies, even by SIGKILL.

    The signal fires when the *thread* that forked the child exits, so it is only armed
    for children spawned from the main thread; a short-lived worker thread would take the
    server down with it. atexit handlers cover the remaining (orderly) exits.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        # The parent may have died between fork() and prctl(): then nobody will signal us.
        if os.getppid() != parent:
            os.kill(os.getpid(), int(sig))

    return preexec


class ManagedProcess:
    """A server child process that is stopped on :meth:`stop`, at interpreter exit, and
    (on Linux, when spawned from the main thread) when this interpreter dies abruptly."""

    _live: ClassVar[set[ManagedProcess]] = set()
    _lock: ClassVar[threading.Lock] = threading.Lock()
    _atexit_registered: ClassVar[bool] = False

    def __init__(
        self,
        args: Sequence[str],
        *,
        name: str,
        log_path: Path | None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: int | None = None,
        group: int | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        log_file = log_path.open("ab") if log_path is not None else None
        try:
            self._popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log_file if log_file is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
                # Own session: a Ctrl+C in the terminal reaches us, and we decide how to stop.
                start_new_session=True,
                preexec_fn=_death_signal_preexec(stop_signal),
            )
        finally:
            if log_file is not None:
                log_file.close()
        logger.debug("started %s pid=%d: %s", name, self._popen.pid, " ".join(args))
        with self._lock:
            self._live.add(self)
            if not ManagedProcess._atexit_registered:
                atexit.register(ManagedProcess._stop_all)
                ManagedProcess._atexit_registered = True

    @property
    def pid(self) -> int:
        """OS process id."""
        return self._popen.pid

    def poll(self) -> int | None:
        """Exit code, or ``None`` while running."""
        return self._popen.poll()

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self._popen.poll() is None

    def stop(self, timeout: float | None = None) -> int | None:
        """Send the graceful stop signal, wait up to ``timeout`` seconds, then SIGKILL.

        Any descendants still alive afterwards are killed too. Idempotent.
        """
        timeout = self.stop_timeout if timeout is None else timeout
        try:
            descendants = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, self.stop_signal)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s (pid %d) ignored %s for %.0fs; killing it",
                    self.name,
                    self.pid,
                    self.stop_signal.name,
                    timeout,
                )
                self._popen.kill()
                self._popen.wait(10)
        kill_all(descendants)
        with self._lock:
            self._live.discard(self)
        return self._popen.returncode

    @classmethod
    def _stop_all(cls) -> None:
        with cls._lock:
            live = list(cls._live)
        for proc in reversed(live):
            try:
                proc.stop()
            except Exception:  # interpreter is exiting: try the others regardless
                logger.exception("could not stop %s (pid %d)", proc.name, proc.pid)


def kill_all(procs: Sequence[psutil.Process], timeout: float = 5.0) -> None:
    """SIGKILL every process in ``procs`` that is still running and reap-wait for them."""
    alive = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                proc.kill()
                alive.append(proc)
    if alive:
        psutil.wait_procs(alive, timeout=timeout)


class LocalServer:
    """What every local server (PostgreSQL, Apache Kafka, Tansu) exposes about its process.

    Subclasses set ``host``, ``_port`` (once bound) and ``_proc`` (once spawned), and name
    the error raised when the port is asked for before the server started.
    """

    not_started_error: ClassVar[type[Exception]] = RuntimeError
    host: str
    _port: int | None
    _proc: ManagedProcess | None

    @property
    def port(self) -> int:
        """TCP port the server listens on; valid once started."""
        if self._port is None:
            raise self.not_started_error(f"{type(self).__name__} not started")
        return self._port

    @property
    def pid(self) -> int | None:
        """Server process id while running."""
        return self._proc.pid if self._proc is not None and self._proc.running else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.running
