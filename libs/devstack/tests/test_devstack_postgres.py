"""LocalPostgres: init/reuse, per-service roles and databases, and no server left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from devstack.postgres import (
    LocalPostgres,
    PostgresError,
    ensure_database,
    plain_dsn,
    recreate_database,
    service_dsn,
)

pytestmark = pytest.mark.integration


def server_processes(data_dir: Path) -> list[psutil.Process]:
    """Live postgres processes (postmaster and backends) serving ``data_dir``."""
    found = []
    for proc in psutil.process_iter(["name", "status"]):
        try:
            if proc.info["name"] != "postgres" or proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if Path(proc.cwd()) == data_dir.resolve():
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_gone(data_dir: Path, seconds: float = 10.0) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := server_processes(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture(scope="module")
def pg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pg") / "data"


@pytest.fixture(scope="module")
def pg(pg_dir: Path) -> Iterator[LocalPostgres]:
    server = LocalPostgres(pg_dir, durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_admin_dsn(pg: LocalPostgres) -> None:
    assert pg.running
    assert pg.admin_dsn == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
    conn = await asyncpg.connect(pg.admin_dsn)
    try:
        assert await conn.fetchval("SHOW fsync") == "off"
        assert await conn.fetchval("SELECT current_setting('server_version_num')::int") >= 150000
        assert await conn.fetchval("SELECT upper('счёт')") == "СЧЁТ"
    finally:
        await conn.close()


async def test_service_database(pg: LocalPostgres) -> None:
    dsn = await ensure_database(pg.admin_dsn, "billing", "pa ss'word")
    assert dsn == service_dsn(pg.admin_dsn, "billing", "pa ss'word")
    assert dsn.startswith(f"postgresql+asyncpg://billing:pa%20ss%27word@127.0.0.1:{pg.port}/")
    assert plain_dsn(dsn).startswith("postgresql://billing:")
    # Idempotent, and it realigns the password.
    assert await ensure_database(pg.admin_dsn, "billing", "pa ss'word") == dsn

    conn = await asyncpg.connect(plain_dsn(dsn))
    try:
        assert await conn.fetchval("SELECT current_user") == "billing"
        assert await conn.fetchval("SELECT current_database()") == "billing"
        await conn.execute("CREATE TABLE invoice (id int PRIMARY KEY)")
        await conn.execute("INSERT INTO invoice VALUES (1)")
    finally:
        await conn.close()

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(plain_dsn(service_dsn(pg.admin_dsn, "billing", "wrong")))

    # Service roles cannot reach each other's databases.
    await ensure_database(pg.admin_dsn, "notifier", "n")
    other = plain_dsn(dsn).rsplit("/", 1)[0] + "/notifier"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(other)

    fresh = await recreate_database(pg.admin_dsn, "billing", "pa ss'word")
    conn = await asyncpg.connect(plain_dsn(fresh))
    try:
        assert await conn.fetchval("SELECT to_regclass('invoice')") is None
    finally:
        await conn.close()


async def test_rejects_bad_names(pg: LocalPostgres) -> None:
    for name in ("Billing", "pg_x", "postgres", "a;b", ""):
        with pytest.raises(ValueError, match="invalid service"):
            await ensure_database(pg.admin_dsn, name, "x")


def test_second_server_on_same_dir_is_refused(pg: LocalPostgres, pg_dir: Path) -> None:
    with pytest.raises(PostgresError, match="already running"):
        LocalPostgres(pg_dir, durable=False).start()


def test_stop_leaves_no_process(pg: LocalPostgres, pg_dir: Path) -> None:
    """Runs last against the module server; the fixture's stop is then a no-op."""
    pid = pg.pid
    assert pid is not None
    assert server_processes(pg_dir)
    pg.stop()
    assert not pg.running
    assert wait_gone(pg_dir, 2) == []
    pg.stop()


async def test_durable_restart_reuses_data(tmp_path: Path) -> None:
    data = tmp_path / "durable"
    with LocalPostgres(data) as server:
        conn = await asyncpg.connect(server.admin_dsn)
        try:
            assert await conn.fetchval("SHOW fsync") == "on"
            await conn.execute("CREATE TABLE kept (x int)")
        finally:
            await conn.close()
    assert wait_gone(data, 2) == []
    with LocalPostgres(data) as server:
        conn = await asyncpg.connect(server.admin_dsn)
        try:
            assert await conn.fetchval("SELECT to_regclass('kept')::text") == "kept"
        finally:
            await conn.close()
    assert wait_gone(data, 2) == []


_CHILD = textwrap.dedent(
    """
    import os, sys
    from devstack.postgres import LocalPostgres
    server = LocalPostgres(sys.argv[1], durable=False)
    server.start()
    print(server.pid, flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), 9)
    """
)


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_no_server_left_when_the_owner_exits(tmp_path: Path, how: str) -> None:
    data = tmp_path / "data"
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data), how],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.stdout.strip().isdigit(), out.stderr
    assert wait_gone(data) == []
    # The next owner starts cleanly on the same directory.
    with LocalPostgres(data, durable=False) as server:
        assert server.running
    assert wait_gone(data, 2) == []


def test_cli(tmp_path: Path) -> None:
    data = tmp_path / "cli"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.postgres",
            str(data),
            "--no-durable",
            "--database",
            "gateway:secret",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        admin = proc.stdout.readline().strip()
        assert admin.startswith("admin_dsn=postgresql://postgres@127.0.0.1:")
        db = proc.stdout.readline().strip()
        assert db.startswith("database=gateway dsn=postgresql+asyncpg://gateway:secret@127.0.0.1:")
        assert server_processes(data)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
        assert wait_gone(data, 2) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
