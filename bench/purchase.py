"""Benchmark: simulated customers buying concurrently, through all five services.

Every service runs as its own process on real PostgreSQL and Kafka (Apache Kafka unless
DEVSTACK_KAFKA says otherwise); Telegram, the payment providers and Marzban are the
sandboxes, served from this process. First every customer starts the bot and checks out
(not measured); then the payments are made at the offered rate, and each purchase is timed
until the Telegram sandbox accepted the access message (one machine, one clock): with
YooKassa from the moment its notification reached the gateway, with the other providers
from the moment the customer paid (their sandboxes' own delivery is then inside the time).
With the wallet, every customer first tops up by YooKassa (not measured) and the purchase
is timed from the press of "pay from the wallet": the checkout is then the payment.

    make bench-purchase                              # 600 purchases offered at 100/s
    make bench-purchase PROVIDER=wata                # or stars, cryptopay, wallet
    python bench/purchase.py --purchases 500 --rate 50 --provider cryptopay

Prints the figures and writes them to bench/results/purchase.json (purchase-<provider>.json
for the other providers). ``cpu_ms_per_purchase`` is the CPU of the platform's processes
(services, Kafka, PostgreSQL; not the sandboxes and this driver) divided by purchases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import psutil
from measure import commit, cpu_seconds

from devstack.customer import PaymentLink, SimulatedCustomer
from devstack.runtime import LocalRuntime
from sandbox.telegram import TelegramSandboxControl

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "purchase.json"
ACCESS_READY = "Доступ к VPN готов"
TOPPED_UP = "Баланс пополнен"
_IDLE_WINDOW_S = 10.0


def _say(text: str) -> None:
    sys.stdout.write(f"bench | {text}\n")
    sys.stdout.flush()


async def _checkouts(
    count: int,
    provider: str,
    join: Callable[[], Awaitable[SimulatedCustomer]],
    parallel: int,
) -> list[tuple[SimulatedCustomer, PaymentLink]]:
    limit = asyncio.Semaphore(parallel)

    async def one() -> tuple[SimulatedCustomer, PaymentLink]:
        async with limit:
            customer = await join()
            if provider == "wallet":
                return customer, await _funded(customer)
            return customer, await customer.buy("m1", provider)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _funded(customer: SimulatedCustomer) -> PaymentLink:
    """A customer whose wallet holds enough for the plan (topped up by YooKassa, not
    measured), left on the plan's screen: paying is then one press of "from the wallet"."""
    await customer.start()
    topup = await customer.top_up("t300", "yookassa")
    assert customer.screen is not None
    topup_message = customer.screen.message_id
    await customer.pay(topup)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        transcript = await customer.telegram.transcript(customer.user_id)
        shown = next((m for m in transcript.bot_messages() if m.message_id == topup_message), None)
        if shown is not None and TOPPED_UP in (shown.text or ""):
            break
        await asyncio.sleep(0.5)
    else:
        raise TimeoutError("the top-up was never credited")
    await customer.start()  # back to the menu
    await customer.open_catalog()
    plan = await customer.press("plan:m1")
    return PaymentLink("", f"wallet-{customer.user_id}", plan, "wallet")


async def _access_messages(
    telegram: TelegramSandboxControl, chats: set[int], after: int, deadline: float
) -> dict[int, list[float]]:
    """Acceptance times of the access messages per chat, until every chat has one."""
    seen: dict[int, list[float]] = {}
    cursor = after
    while time.monotonic() < deadline and len(seen) < len(chats):
        for message in await telegram.bot_messages_since(cursor, timeout=2):
            cursor = message.seq
            if message.chat_id in chats and ACCESS_READY in (message.text or ""):
                seen.setdefault(message.chat_id, []).append(message.accepted_at)
    # Duplicates would arrive shortly after; give them the chance to be counted.
    for message in await telegram.bot_messages_since(cursor, timeout=2):
        if message.chat_id in chats and ACCESS_READY in (message.text or ""):
            seen.setdefault(message.chat_id, []).append(message.accepted_at)
    return seen


def _payment_key(customer: SimulatedCustomer, link: PaymentLink) -> str:
    """What a payment's start is known by: YooKassa's payment id (its delivery log names
    it); otherwise the customer, since a Stars invoice's message id is only unique within
    its chat."""
    return link.payment_id if link.provider == "yookassa" else f"customer-{customer.user_id}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vpn-bench-") as workdir:
        log_path = Path(workdir) / "services.log"
        with log_path.open("w") as log_file:

            def sink(service: str, line: str) -> None:
                log_file.write(f"{service:<12} {line}\n")

            runtime = LocalRuntime(
                data_dir=Path(workdir),
                say=_say,
                sink=sink,
                default_broker="apache",
                durable=False,
                prefer_default_ports=False,
                log_format="json",
                extra_env={
                    # Telegram allows ~30 messages/s to different chats (1000/s as paid
                    # broadcasts); the benchmark measures the platform, not that quota.
                    "NOTIFIER_TELEGRAM_MAX_PER_SECOND": "0",
                },
            )
            try:
                await runtime.start()
                return await _measure(args, runtime)
            finally:
                await runtime.stop()


async def _measure(args: argparse.Namespace, runtime: LocalRuntime) -> dict[str, Any]:
    assert runtime.sandboxes is not None
    assert runtime.platform is not None
    sandboxes, platform = runtime.sandboxes, runtime.platform
    async with (
        sandboxes.telegram_control() as telegram,
        sandboxes.yookassa_control() as yookassa,
        sandboxes.wata_control() as wata,
        sandboxes.cryptopay_control() as cryptopay,
    ):

        async def join() -> SimulatedCustomer:
            return await SimulatedCustomer.join(
                telegram, yookassa, wata=wata, cryptopay=cryptopay, timeout_s=60
            )

        _say(f"{args.purchases} customers start the bot and check out (not measured)")
        started = time.monotonic()
        checkouts = await _checkouts(args.purchases, args.provider, join, args.parallel_checkouts)
        _say(f"checkouts ready in {time.monotonic() - started:.1f}s")
        await asyncio.sleep(2)  # let the checkout traffic drain

        feed_start = max([m.seq for m in await telegram.bot_messages_since(0)] or [0])
        pids = {name: platform.process(name).proc.pid for name in platform.urls}
        pids["sandboxes_and_driver"] = os.getpid()
        if runtime.postgres is not None and runtime.postgres.pid is not None:
            pids["postgres"] = runtime.postgres.pid
        broker_pid = getattr(runtime.broker, "pid", None)
        if isinstance(broker_pid, int):
            pids["kafka"] = broker_pid
        # What the platform spends doing nothing (polls, sweeps, heartbeats): at a given
        # throughput this share of cpu_ms_per_purchase is idle_cpu / purchases_per_s.
        idle_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        await asyncio.sleep(_IDLE_WINDOW_S)
        idle_cpu = {
            name: round((cpu_seconds(pid) - idle_before[name]) * 1000 / _IDLE_WINDOW_S, 1)
            for name, pid in pids.items()
        }
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        machine_before = psutil.cpu_times()
        pg_before = await _database_counts(platform.admin_dsn, platform.urls)
        profilers = _start_profilers(
            {name: platform.process(name).proc.pid for name in platform.urls}
        )

        _say(f"paying {args.purchases} orders at {args.rate:.0f}/s")
        payments_started = time.monotonic()
        in_flight = asyncio.Semaphore(64)
        unpaid: list[str] = []

        paid_at: dict[str, float] = {}

        async def pay(customer: SimulatedCustomer, link: PaymentLink) -> None:
            async with in_flight:
                for attempt in range(3):
                    try:
                        paid_at[_payment_key(customer, link)] = time.time()
                        if link.provider == "wallet":
                            # Pressed once only: a second press would be a second purchase.
                            await customer.press_pay("m1", "wallet")
                            return
                        await customer.pay(link)
                        return
                    except Exception as exc:
                        _say(f"paying {link.payment_id} failed ({exc!r}); attempt {attempt + 1}")
                        await asyncio.sleep(1)
                unpaid.append(link.payment_id)

        payments = []
        for index, (customer, link) in enumerate(checkouts):
            due = payments_started + index / args.rate
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            payments.append(asyncio.create_task(pay(customer, link)))
        await asyncio.gather(*payments)
        payments_made_in = time.monotonic() - payments_started
        chats = {customer.user_id for customer, _ in checkouts}
        accepted = await _access_messages(
            telegram, chats, feed_start, time.monotonic() + args.timeout
        )
        cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()}
        machine = psutil.cpu_times()
        _stop_profilers(profilers)
        await asyncio.sleep(1.5)  # PostgreSQL flushes a backend's statistics within a second
        pg_after = await _database_counts(platform.admin_dsn, platform.urls)
        busy = (machine.user + machine.system) - (machine_before.user + machine_before.system)

        status_counts: dict[int | None, int] = {}
        if args.provider == "yookassa":
            # From the notification's delivery, as before there were other providers.
            deliveries = [
                d for d in await yookassa.deliveries(event="payment.succeeded") if not d.forged
            ]
            status_counts = dict(Counter(d.status_code for d in deliveries))
            received_at: dict[str, float] = {}
            for delivery in sorted(deliveries, key=lambda d: d.started_at):
                if delivery.status_code == 200 and delivery.payment_id is not None:
                    received_at.setdefault(delivery.payment_id, delivery.started_at)
        else:
            received_at = paid_at

    latencies: list[float] = []
    missing = duplicates = 0
    for customer, link in checkouts:
        times = accepted.get(customer.user_id, [])
        key = _payment_key(customer, link)
        if not times or key not in received_at:
            missing += 1
            continue
        duplicates += len(times) - 1
        latencies.append((times[0] - received_at[key]) * 1000)
    first = min(received_at.values(), default=0.0)
    last = max((t[0] for t in accepted.values()), default=first)
    elapsed = last - first
    broker = runtime.broker_description
    return {
        "purchases": len(latencies),
        "errors": missing + duplicates,
        "missing": missing,
        "unpaid": len(unpaid),
        "payments_made_in_s": round(payments_made_in, 2),
        "duplicates": duplicates,
        "offered_rate_per_s": args.rate,
        "purchases_per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(_percentile(latencies, 0.50), 1) if latencies else None,
        "p95_ms": round(_percentile(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "elapsed_s": round(elapsed, 2),
        "broker": broker,
        "cpu_seconds": cpu,
        # The platform's processes (services, Kafka, PostgreSQL); the sandboxes and this
        # driver stand in for third parties and customers and are left out.
        "cpu_ms_per_purchase": _per_purchase(
            sum(v for k, v in cpu.items() if k != "sandboxes_and_driver"), len(latencies)
        ),
        "cpu_ms_per_purchase_by_process": {
            name: _per_purchase(seconds, len(latencies)) for name, seconds in cpu.items()
        },
        # Transactions (commits and rollbacks) and rows written per purchase, by service
        # database: what each hop costs PostgreSQL, and the first place to look after a
        # change in cpu_ms_per_purchase.
        "pg_per_purchase": {
            name: {
                key: round((pg_after[name][key] - pg_before[name][key]) / len(latencies), 1)
                for key in pg_after[name]
            }
            for name in pg_after
            if latencies and name in pg_before
        },
        "idle_cpu_ms_per_s": idle_cpu,
        "machine_cpu_busy_s": round(busy, 1),
        "machine": {"cpus": os.cpu_count(), "python": host.python_version()},
        "commit": commit(),
        "provider": args.provider,
        "measured": (
            "payment notification at the gateway -> access message accepted by Telegram"
            if args.provider == "yookassa"
            else "the customer presses pay from the wallet -> access message accepted"
            if args.provider == "wallet"
            else "the customer pays in the provider's sandbox -> access message accepted"
        ),
        "status_counts": status_counts,
    }


async def _database_counts(admin_dsn: str, services: Any) -> dict[str, dict[str, int]]:
    """Cumulative transactions and written rows of each service's database."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT datname, xact_commit + xact_rollback AS transactions,"
            " tup_inserted + tup_updated + tup_deleted AS rows_written"
            " FROM pg_stat_database WHERE datname = ANY($1::text[])",
            list(services),
        )
    finally:
        await conn.close()
    return {
        row["datname"]: {"transactions": row["transactions"], "rows_written": row["rows_written"]}
        for row in rows
    }


def _start_profilers(pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """With BENCH_PROFILE=<dir>, py-spy samples each service during the measured window.

    The profiles are collapsed stacks (``<dir>/<service>.txt``), one line per stack with
    its sample count, for ``flamegraph.pl`` or a grep.
    """
    folder = os.environ.get("BENCH_PROFILE")
    if not folder:
        return []
    Path(folder).mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    record = [spy, "record", "--nonblocking", "--format", "raw", "--rate", "200"]
    return [
        subprocess.Popen(
            [*record, "--pid", str(pid), "--output", str(Path(folder) / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


def _stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(timeout=30)


def _per_purchase(cpu_seconds: float, purchases: int) -> float | None:
    return round(cpu_seconds * 1000 / purchases, 1) if purchases else None


async def _cancellable(work: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    # SIGTERM cancels the run like Ctrl-C does, so the services and servers are stopped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=600)
    parser.add_argument("--rate", type=float, default=100.0, help="offered payments per second")
    parser.add_argument("--parallel-checkouts", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=120.0, help="s to wait for access")
    parser.add_argument(
        "--provider",
        choices=("yookassa", "wata", "telegram_stars", "stars", "cryptopay", "wallet"),
        default="yookassa",
        help="how the customers pay",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.provider == "stars":
        args.provider = "telegram_stars"
    if args.out is None:
        suffix = "" if args.provider == "yookassa" else f"-{args.provider}"
        args.out = RESULTS.with_name(f"purchase{suffix}.json")
    results = asyncio.run(_cancellable(run(args)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for name in (
        "provider",
        "purchases",
        "errors",
        "purchases_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "cpu_ms_per_purchase",
        "broker",
    ):
        _say(f"{name:<16} {results[name]}")
    _say(f"written to {args.out}")
    raise SystemExit(0 if results["errors"] == 0 else 1)


if __name__ == "__main__":
    main()
