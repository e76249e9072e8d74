"""Benchmark: a day's share of due times on a large subscription base, end to end.

Billing's database holds ``--subscriptions`` subscriptions (1,000,000) of a monthly plan
whose ends are spread evenly over 33 days around now, each with its four due times (72 h
and 24 h before the end, at the end, at the grace's end), those before the window already
fired. The window's due times (``--due``, about 35,000: the reminders, expiries and
suspensions of a quarter of a day at this size) are held until every service is ready,
then let go at once, as after a downtime. Measured from then until the notifier has had
Telegram accept every message and the panel has every suspended user disabled; with the
query plans of the due-time scan and the handlers' lookups on the full table (no
sequential scan).

    make bench-lifecycle
    python bench/lifecycle.py --subscriptions 200000 --due 5000   # smaller

Prints the figures and writes bench/results/lifecycle.json (subscriptions, due, seconds,
fired_per_s, duplicates).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
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

from devstack.platform import Platform
from devstack.postgres import plain_dsn
from devstack.runtime import LocalRuntime
from provisioning.placements import panel_username
from sandbox.marzban.records import Caller
from sandbox.marzban.schemas import UserStatus
from sandbox.telegram import DEFAULT_BOT

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "lifecycle.json"
SPREAD = timedelta(days=33)  # ends from 3 days ago to 30 days on
GRACE = timedelta(hours=48)  # BILLING_GRACE_HOURS' default
GIB = 1024**3
# One row per (subscription, due time): the reminders, the end, the grace's end.
TIMER_KINDS = (
    ("subscription-expiring-72h", "subscription-expiring", timedelta(hours=-72), 72),
    ("subscription-expiring-24h", "subscription-expiring", timedelta(hours=-24), 24),
    ("subscription-expired", "subscription-expired", timedelta(0), None),
    ("subscription-suspend", "subscription-suspend", GRACE, None),
)


def _say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def _window(subscriptions: int, due: int) -> timedelta:
    """How long a window holds ``due`` due times: four per subscription, ends spread
    evenly over ``SPREAD``."""
    per_second = 4 * subscriptions / SPREAD.total_seconds()
    return timedelta(seconds=due / per_second)


_SUBSCRIPTIONS = """
INSERT INTO subscriptions (subscription_id, customer_id, plan_id, period_start, period_end,
    traffic_limit_bytes, revision, access_until, stage, created_at, updated_at)
SELECT md5('sub' || i)::uuid, md5('customer' || i)::uuid, 'm1', e - interval '30 days', e,
       $4::bigint, 1, e + $5::interval,
       CASE WHEN e + $5::interval < $6::timestamptz THEN 'suspended' ELSE 'active' END,
       $1::timestamptz, $1::timestamptz
FROM (SELECT i, $1::timestamptz - interval '3 days' + (i - 1) * ($3::interval / $2::int) AS e
      FROM generate_series(1, $2::int) AS i) AS ends
"""
_TIMERS = """
INSERT INTO timers (timer_id, kind, due_at, payload, attempts, fired_at, lease_until, created_at)
SELECT $3::text || ':' || s.subscription_id || ':' || (to_json(s.period_end) #>> '{}'),
       $4::text, s.period_end + $5::interval,
       jsonb_strip_nulls(jsonb_build_object(
           'subscription_id', s.subscription_id::text,
           'period_end', to_json(s.period_end) #>> '{}',
           'hours', $6::int)),
       0,
       CASE WHEN s.period_end + $5::interval < $2::timestamptz
            THEN s.period_end + $5::interval END,
       -- The window's due times held (as by a replica of old) until the run starts.
       CASE WHEN s.period_end + $5::interval BETWEEN $2::timestamptz AND $1::timestamptz
            THEN $1::timestamptz + interval '1 day' END,
       $1::timestamptz
FROM subscriptions s
"""


async def seed(platform: Platform, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    """The subscription base in billing's own tables, as the service would have left it."""
    window = _window(args.subscriptions, args.due)
    window_start = now - window
    billing = await asyncpg.connect(plain_dsn(platform.database_url("billing")))
    try:
        await billing.execute("SET TIME ZONE 'UTC'")
        started = time.monotonic()
        await billing.execute(
            _SUBSCRIPTIONS, now, args.subscriptions, SPREAD, 100 * GIB, GRACE, window_start
        )
        for name, kind, offset, hours in TIMER_KINDS:
            await billing.execute(_TIMERS, now, window_start, name, kind, offset, hours)
        await billing.execute("ANALYZE subscriptions; ANALYZE timers")
        _say(f"seeded {args.subscriptions} subscriptions in {time.monotonic() - started:.0f}s")
        due = await billing.fetch(
            "SELECT t.kind, s.subscription_id, s.customer_id, s.access_until"
            " FROM timers t JOIN subscriptions s"
            " ON s.subscription_id = (t.payload->>'subscription_id')::uuid"
            " WHERE t.fired_at IS NULL AND t.due_at <= $1",
            now,
        )
        plans = await _plans(billing, now)
    finally:
        await billing.close()
    return {"window": window, "due": due, "plans": plans}


async def _plans(connection: asyncpg.Connection, now: datetime) -> dict[str, Any]:
    """The plans of the scans that run per due time, on the full tables."""
    queries = {
        "due_timers": (
            "SELECT timer_id FROM timers WHERE fired_at IS NULL AND due_at <= $1"
            " AND (lease_until IS NULL OR lease_until < $1) ORDER BY due_at LIMIT 100"
            " FOR UPDATE SKIP LOCKED",
            (now,),
        ),
        "timer_by_id": (
            "SELECT timer_id FROM timers WHERE timer_id = $1 AND fired_at IS NULL"
            " FOR UPDATE SKIP LOCKED",
            ("subscription-expired:x",),
        ),
        "subscription_by_id": (
            "SELECT * FROM subscriptions WHERE subscription_id = $1 FOR UPDATE",
            (uuid.UUID(int=1),),
        ),
        "autopay_of_customer": (
            "SELECT enabled FROM autopays WHERE customer_id = $1",
            (uuid.UUID(int=1),),
        ),
    }
    plans: dict[str, Any] = {}
    for name, (query, params) in queries.items():
        (row,) = await connection.fetch(f"EXPLAIN (FORMAT JSON) {query}", *params)
        plan = json.loads(row[0])[0]["Plan"]
        nodes = list(_nodes(plan))
        plans[name] = {
            "nodes": [
                f"{n['Node Type']}{' on ' + n['Relation Name'] if 'Relation Name' in n else ''}"
                f"{' using ' + n['Index Name'] if 'Index Name' in n else ''}"
                for n in nodes
            ],
            "seq_scan": any(n["Node Type"] == "Seq Scan" for n in nodes),
        }
    return plans


def _nodes(plan: dict[str, Any]) -> Any:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def seed_others(
    runtime: LocalRuntime, platform: Platform, due: list[asyncpg.Record]
) -> dict[str, Any]:
    """What the other services and the third parties know of the due customers: a chat with
    the bot, the notifier's contact, the placement and the panel user of those suspended."""
    assert runtime.sandboxes is not None
    telegram, panel = runtime.sandboxes.telegram, runtime.sandboxes.marzban
    bot = telegram.bot_for_token(DEFAULT_BOT.token)
    chats: dict[uuid.UUID, int] = {}
    for row in due:
        if row["customer_id"] not in chats:
            user = telegram.create_user("Subscriber", language_code="ru")
            telegram.started_chat(bot, user.id)
            chats[row["customer_id"]] = user.id
    notifier = await asyncpg.connect(plain_dsn(platform.database_url("notifier")))
    try:
        await notifier.copy_records_to_table(
            "contacts",
            records=[(customer, chat, "ru", True) for customer, chat in chats.items()],
            columns=["customer_id", "chat_id", "language", "reminders"],
        )
    finally:
        await notifier.close()
    suspended = [row for row in due if row["kind"] == "subscription-suspend"]
    sudo = Caller("platform", True, None)
    placements = []
    for row in suspended:
        name = panel_username(row["subscription_id"])
        expire = int(row["access_until"].timestamp())
        body = {
            "username": name,
            "proxies": {"vless": {}},
            "inbounds": {},
            "expire": expire,
            "data_limit": 100 * GIB,
        }
        panel.create_user(sudo, panel.parse_user_create(body))
        placements.append(
            {
                "subscription_id": row["subscription_id"],
                "customer_id": row["customer_id"],
                "region": "eu",
                "panel_id": "eu-1",
                "panel_username": name,
                "desired_expire": row["access_until"],
                "desired_traffic_limit_bytes": 100 * GIB,
                "desired_revision": 1,
                "shortened": False,
                "desired_state": "active",
                "desired_period_end": row["access_until"] - GRACE,
                "desired_version": 1,
                "applied_version": 1,
                "on_panel": True,
                "panel_status": "active",
                "next_attempt_at": datetime.now(UTC),
                "failure_reported": False,
                "gave_up": False,
                "attempts": 0,
                "carried_bytes": 0,
                "carry_over": True,
                "traffic_reset": "none",
                "renewal_due": False,
            }
        )
    provisioning = await asyncpg.connect(plain_dsn(platform.database_url("provisioning")))
    try:
        if placements:
            columns = list(placements[0])
            await provisioning.copy_records_to_table(
                "placements",
                records=[tuple(p[c] for c in columns) for p in placements],
                columns=columns,
            )
    finally:
        await provisioning.close()
    return {"chats": chats, "suspended": [panel_username(r["subscription_id"]) for r in suspended]}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    now = datetime.now(UTC)
    state: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="vpn-bench-") as workdir:
        log_path = Path(workdir) / "services.log"
        with log_path.open("w") as log_file:

            def sink(service: str, line: str) -> None:
                log_file.write(f"{service:<12} {line}\n")

            async def prepared(platform: Platform) -> None:
                state["now"] = now
                state.update(await seed(platform, args, now))
                state.update(await seed_others(runtime, platform, state["due"]))

            runtime = LocalRuntime(
                data_dir=Path(workdir),
                say=_say,
                sink=sink,
                default_broker="apache",
                durable=False,
                prefer_default_ports=False,
                log_format="json",
                extra_env={
                    "NOTIFIER_TELEGRAM_MAX_PER_SECOND": "0",  # the platform, not the quota
                    "BILLING_TIMERS_POLL_S": "1",
                },
                prepared=prepared,
            )
            try:
                platform = await runtime.start()
                # Everything is up: the window's due times are let go, and the clock runs.
                billing = await asyncpg.connect(plain_dsn(platform.database_url("billing")))
                try:
                    await billing.execute(
                        "UPDATE timers SET lease_until = NULL"
                        " WHERE fired_at IS NULL AND due_at <= $1",
                        now,
                    )
                finally:
                    await billing.close()
                state["pids"] = {name: platform.process(name).proc.pid for name in platform.urls}
                if runtime.postgres is not None and runtime.postgres.pid is not None:
                    state["pids"]["postgres"] = runtime.postgres.pid
                broker_pid = getattr(runtime.broker, "pid", None)
                if isinstance(broker_pid, int):
                    state["pids"]["kafka"] = broker_pid
                state["cpu_before"] = {n: cpu_seconds(p) for n, p in state["pids"].items()}
                state["started"] = time.monotonic()
                return await _measure(args, runtime, state)
            finally:
                await runtime.stop()


async def _measure(
    args: argparse.Namespace, runtime: LocalRuntime, state: dict[str, Any]
) -> dict[str, Any]:
    assert runtime.sandboxes is not None
    telegram, panel = runtime.sandboxes.telegram, runtime.sandboxes.marzban
    bot = telegram.bot_for_token(DEFAULT_BOT.token)
    chats = set(state["chats"].values())
    due: list[asyncpg.Record] = state["due"]
    suspended: list[str] = state["suspended"]
    _say(f"{len(due)} due times for {len(chats)} customers, {len(suspended)} suspensions")
    deadline = time.monotonic() + args.timeout
    received: Counter[int] = Counter()
    cursor = 0
    disabled = 0
    platform = runtime.platform
    assert platform is not None
    billing = await asyncpg.connect(plain_dsn(platform.database_url("billing")))
    fired_all_at: float | None = None
    next_probe = 0.0
    while time.monotonic() < deadline:
        if fired_all_at is None and time.monotonic() >= next_probe:
            next_probe = time.monotonic() + 1.0
            pending = await billing.fetchval(
                "SELECT count(*) FROM timers WHERE fired_at IS NULL AND due_at <= $1",
                state["now"],
            )
            if pending == 0:
                fired_all_at = time.monotonic()
        for event in telegram.sent_after(bot, cursor):
            cursor = event.seq
            if event.chat_id in chats and event.kind == "sent":
                received[event.chat_id] += 1
        disabled = sum(1 for name in suspended if panel.users[name].status == UserStatus.disabled)
        if len(received) >= len(chats) and disabled >= len(suspended):
            break
        await asyncio.sleep(0.2)
    seconds = time.monotonic() - state["started"]
    cpu = {
        name: round(cpu_seconds(pid) - state["cpu_before"][name], 2)
        for name, pid in state["pids"].items()
    }
    await asyncio.sleep(3.0)  # anything sent twice would show by now
    for event in telegram.sent_after(bot, cursor):
        if event.chat_id in chats and event.kind == "sent":
            received[event.chat_id] += 1
    try:
        # Fired during the run (those before the window were seeded fired at their due time).
        fired = await billing.fetchval(
            "SELECT count(*) FROM timers WHERE fired_at >= $1", state["now"]
        )
        unfired = await billing.fetchval(
            "SELECT count(*) FROM timers WHERE fired_at IS NULL AND due_at <= $1", state["now"]
        )
    finally:
        await billing.close()
    duplicates = sum(count - 1 for count in received.values() if count > 1)
    return {
        "subscriptions": args.subscriptions,
        "due": len(due),
        "due_by_kind": dict(Counter(row["kind"] for row in due)),
        "window_hours": round(state["window"].total_seconds() / 3600, 2),
        "seconds": round(seconds, 1),
        "fired_per_s": round(len(due) / seconds, 1) if seconds else None,
        # When billing had fired the last due time (the rest is delivery and the panel).
        "billing_fired_all_in_s": round(fired_all_at - state["started"], 1)
        if fired_all_at is not None
        else None,
        "cpu_seconds": cpu,
        "cpu_ms_per_due": {name: round(v * 1000 / max(len(due), 1), 2) for name, v in cpu.items()},
        "messages_expected": len(chats),
        "messages_accepted": len(received),
        "suspensions_expected": len(suspended),
        "suspensions_on_panel": disabled,
        "duplicates": duplicates,
        "timed_out": len(received) < len(chats) or disabled < len(suspended),
        "fired_in_billing": fired,
        "unfired_due": unfired,
        "query_plans": state["plans"],
        "seq_scans": [name for name, plan in state["plans"].items() if plan["seq_scan"]],
        "machine": {"cpus": os.cpu_count(), "python": host.python_version()},
        "commit": commit(),
        "measured": "services started with the due times pending -> every message accepted "
        "by Telegram and every suspended user disabled on the panel",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=35_000)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for key in (
        "subscriptions",
        "due",
        "window_hours",
        "seconds",
        "fired_per_s",
        "duplicates",
        "messages_accepted",
        "suspensions_on_panel",
        "seq_scans",
    ):
        print(f"{key:>22}: {result[key]}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 1 if result["timed_out"] or result["duplicates"] or result["seq_scans"] else 0


if __name__ == "__main__":
    sys.exit(main())
