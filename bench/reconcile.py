"""Benchmark: one reconciliation cycle over a panel of 100,000 users, 1 % of them drifted.

One Marzban sandbox, in a process of its own, holds ``--users`` users (100,000) seeded
straight into the emulator; provisioning's database (a real PostgreSQL) holds their
placements, bulk-inserted. One user in a hundred is drifted, in turn: deleted on the panel
(missing), another expiry, another limit, disabled by hand (status), enabled again after
its expiry, given another protocol, or a prefixed user no placement knows (unpaid). The
measure runs provisioning's reconciler for ONE full cycle and then its placement worker
until every repair the cycle handed it is applied on the panel; then a second cycle must
find nothing left. Wall seconds and CPU seconds are of provisioning's side (this process:
the reconciler, the worker, the driver idle), PostgreSQL and the sandbox counted apart.

    make bench-reconcile
    python bench/reconcile.py --users 20000   # smaller

Prints the figures and writes bench/results/reconcile.json (panel_users, drifted,
repaired, seconds, cpu_seconds, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import platform as host
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from measure import commit, cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "reconcile.json"
GIB = 1024**3
LIMIT = 100 * GIB
PASSWORD = "bench-pw"  # noqa: S105 - the sandbox's
KINDS = (
    "missing",
    "expiry",
    "limit",
    "status",
    "enabled_after_expiry",
    "protocols",
    "unpaid",
)
"""The drift of every hundredth user, in turn."""


def _say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def subscription_of(index: int) -> uuid.UUID:
    """The same subscriptions on both sides, from their index alone."""
    return uuid.UUID(hashlib.md5(f"sub{index}".encode()).hexdigest())  # noqa: S324 - ids


def drift_of(index: int) -> str | None:
    return KINDS[(index // 100) % len(KINDS)] if index % 100 == 0 else None


def _times(now: int) -> tuple[int, int]:
    """The desired expiry of every user, and the past one of those enabled after it."""
    return now + 30 * 86_400, now - 86_400


# --- the panel's process ------------------------------------------------------------------


async def serve_panel(users: int, now: int, url_file: Path) -> None:
    from provisioning.placements import panel_username
    from sandbox.marzban import AdminAccount, MarzbanEmulator, create_app
    from sandbox.marzban.records import Caller, ProxyRecord
    from sandbox.marzban.schemas import UserStatus
    from sandbox.server import SandboxServer

    emulator = MarzbanEmulator(admins=[AdminAccount("platform", PASSWORD, is_sudo=True)])
    sudo = Caller("platform", True, None)
    expire, past = _times(now)
    template = emulator.parse_user_create(
        {
            "username": "vpn_template",
            "proxies": {"vless": {}},
            "inbounds": {},
            "expire": expire,
            "data_limit": LIMIT,
        }
    )
    for index in range(users):
        kind = drift_of(index)
        if kind == "missing":
            continue
        name = panel_username(subscription_of(index))
        user = emulator.create_user(sudo, template.model_copy(update={"username": name}))
        if kind == "expiry":
            user.expire = expire + 86_400
        elif kind == "limit":
            user.data_limit = None
        elif kind == "status":
            user.status = UserStatus.disabled
        elif kind == "enabled_after_expiry":
            user.expire = past  # and active, as an operator left it
        elif kind == "protocols":
            user.proxies.append(ProxyRecord("trojan", {"password": "bench"}))
    async with SandboxServer(create_app(emulator, review_interval_s=None), name="marzban") as srv:
        written = url_file.with_suffix(".tmp")
        written.write_text(srv.url)
        written.rename(url_file)  # whole, or not there yet
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()


# --- provisioning's side -----------------------------------------------------------------


async def seed(url: str, panel_url: str, users: int, now: int) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from chassis.db import session_factory, transaction
    from devstack.postgres import plain_dsn
    from provisioning import regions
    from provisioning.placements import panel_username

    engine = create_async_engine(url)
    async with transaction(session_factory(engine)) as session:
        await regions.put_region(
            session, regions.RegionConfig(code="eu", names={"en": "Europe"}, flag="🇪🇺")
        )
        await regions.put_panel(
            session,
            regions.PanelConfig(
                panel_id="eu-1",
                region="eu",
                kind="marzban",
                base_url=panel_url,
                username="platform",
                password_ref="env:BENCH_PANEL_PASSWORD",  # noqa: S106 - a reference
                subscription_base_url=panel_url,
                protocols=("vless",),
                capacity=0,
                weight=1,
                enabled=True,
                sandbox=True,
            ),
        )
    await engine.dispose()
    expire, past = _times(now)
    applied = datetime.fromtimestamp(now, UTC) - timedelta(hours=1)
    columns = [
        "subscription_id",
        "customer_id",
        "region",
        "panel_id",
        "panel_username",
        "desired_expire",
        "desired_traffic_limit_bytes",
        "desired_revision",
        "shortened",
        "desired_state",
        "desired_period_end",
        "desired_version",
        "applied_version",
        "on_panel",
        "panel_status",
        "next_attempt_at",
        "failure_reported",
        "gave_up",
        "attempts",
        "carried_bytes",
        "extra_bytes",
        "carry_over",
        "traffic_reset",
        "renewal_due",
        "stale_panels",
        "subscription_url",
        "updated_at",
    ]
    records = []
    for index in range(users):
        kind = drift_of(index)
        if kind == "unpaid":
            continue  # on the panel, and nobody pays for it
        subscription = subscription_of(index)
        end = datetime.fromtimestamp(past if kind == "enabled_after_expiry" else expire, UTC)
        records.append(
            (
                subscription,
                uuid.UUID(hashlib.md5(f"customer{index}".encode()).hexdigest()),  # noqa: S324
                "eu",
                "eu-1",
                panel_username(subscription),
                end,
                LIMIT,
                1,
                False,
                "active",
                end - timedelta(hours=48),
                1,
                1,
                True,
                "active",
                applied,
                False,
                False,
                0,
                0,
                0,
                True,
                "none",
                False,
                [],
                f"{panel_url}/sub/bench{index}",
                applied,
            )
        )
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.copy_records_to_table("placements", records=records, columns=columns)
        await connection.execute("ANALYZE placements")
    finally:
        await connection.close()


async def measure(url: str) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from chassis.db import session_factory
    from chassis.messaging.outbox import Outbox
    from chassis.messaging.tables import messaging_tables
    from chassis.worker import RetryPolicy, Wakeup
    from provisioning.models import metadata
    from provisioning.panels.directory import PanelDirectory
    from provisioning.placements import PlacementWorker
    from provisioning.reconcile import DRIFT_REPAIRED, Reconciler

    engine = create_async_engine(url, pool_size=20)
    sessions = session_factory(engine)
    directory = PanelDirectory(
        sessions=sessions,
        environment={"BENCH_PANEL_PASSWORD": PASSWORD},
        timeout_s=30.0,
        production=False,
        default_region="eu",
    )
    await directory.refresh()
    outbox = Outbox(messaging_tables(metadata), source="/vpn/provisioning")
    reconciler = Reconciler(
        sessions=sessions, outbox=outbox, panels=directory, placements_wakeup=Wakeup()
    )
    worker = PlacementWorker(
        sessions=sessions,
        outbox=outbox,
        panels=directory,
        concurrency=16,
        lease=timedelta(seconds=120),
        retry=RetryPolicy(0.2, 2.0),
        report_failure_after_attempts=3,
    )
    pending = "SELECT count(*) FROM placements WHERE applied_version < desired_version"
    try:
        cpu_before, started = time.process_time(), time.monotonic()
        repaired = await reconciler.step()
        cycle_seconds = time.monotonic() - started
        cycle_cpu = time.process_time() - cpu_before
        async with engine.connect() as connection:
            handed = (await connection.exec_driver_sql(pending)).scalar_one()
            while True:
                while await worker.step():
                    pass
                left = (await connection.exec_driver_sql(pending)).scalar_one()
                await connection.commit()
                if not left or time.monotonic() - started > 600:
                    break
                await asyncio.sleep(0.2)  # a retry's backoff
        seconds = time.monotonic() - started
        cpu = time.process_time() - cpu_before
        clean_started = time.monotonic()
        clean_cpu_before = time.process_time()
        left_after = await reconciler.step()
        clean_seconds = time.monotonic() - clean_started
        clean_cpu = time.process_time() - clean_cpu_before
    finally:
        await directory.aclose()
        await engine.dispose()
    by_kind = {
        sample.labels["kind"]: int(sample.value)
        for metric in DRIFT_REPAIRED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    return {
        "repaired": repaired,
        "repaired_by_kind": by_kind,
        "handed_to_worker": handed,
        "not_applied": left,
        "found_by_a_second_cycle": left_after,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "cycle_seconds": round(cycle_seconds, 2),
        "cycle_cpu_seconds": round(cycle_cpu, 2),
        "clean_cycle_seconds": round(clean_seconds, 2),
        "clean_cycle_cpu_seconds": round(clean_cpu, 2),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from chassis.migrations import upgrade_to_head_async
    from devstack.postgres import LocalPostgres, recreate_database

    now = int(time.time())
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as workdir:
        work = Path(workdir)
        logging.basicConfig(
            filename=work / "provisioning.log", level=logging.INFO, format="%(message)s"
        )
        postgres = LocalPostgres(work / "postgres", durable=False)
        postgres.start()
        url_file = work / "panel.url"
        panel = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measure
            [
                sys.executable,
                __file__,
                "panel",
                "--users",
                str(args.users),
                "--now",
                str(now),
                "--url-file",
                str(url_file),
            ]
        )
        try:
            url = await recreate_database(postgres.admin_dsn, "provisioning", uuid.uuid4().hex)
            await upgrade_to_head_async("provisioning:migrations", url)
            _say(f"seeding {args.users} users on the panel and their placements")
            while not url_file.exists():
                if panel.poll() is not None:
                    raise RuntimeError("the panel's process ended")
                await asyncio.sleep(0.2)
            await seed(url, url_file.read_text(), args.users, now)
            pids = {"sandbox": panel.pid}
            if postgres.pid is not None:
                pids["postgres"] = postgres.pid
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            _say("one reconciliation cycle, then the worker applies its repairs")
            figures = await measure(url)
            others = {name: round(cpu_seconds(pid) - before[name], 2) for name, pid in pids.items()}
        finally:
            panel.terminate()
            panel.wait(timeout=30)
            postgres.stop()
    drifted = Counter(kind for index in range(args.users) if (kind := drift_of(index)))
    return {
        "panel_users": args.users - drifted["missing"],
        "placements": args.users - drifted["unpaid"],
        "drifted": sum(drifted.values()),
        "drifted_by_kind": dict(drifted),
        **figures,
        "cpu_seconds_elsewhere": others,
        "page_size": 1000,
        "machine": {"cpus": os.cpu_count(), "python": host.python_version()},
        "commit": commit(),
        "measured": "one full reconciliation cycle over the panel, then the placement worker "
        "until every repair it was handed is applied on the panel (seconds, cpu_seconds: "
        "provisioning's process); clean_cycle: a second cycle, finding nothing",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", nargs="?", default="measure", choices=("measure", "panel"))
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--now", type=int, default=0)
    parser.add_argument("--url-file", type=Path)
    args = parser.parse_args()
    if args.role == "panel":
        asyncio.run(serve_panel(args.users, args.now, args.url_file))
        return 0
    result = asyncio.run(run(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for key in (
        "panel_users",
        "drifted",
        "repaired",
        "seconds",
        "cpu_seconds",
        "cycle_seconds",
        "clean_cycle_seconds",
        "not_applied",
        "found_by_a_second_cycle",
    ):
        print(f"{key:>24}: {result[key]}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    ok = result["repaired"] == result["drifted"] and not result["not_applied"]
    return 0 if ok and not result["found_by_a_second_cycle"] else 1


if __name__ == "__main__":
    sys.exit(main())
