"""``python -m devstack.kafka {apache|tansu}``: run a local broker until SIGINT/SIGTERM.

Prints one line, ``bootstrap=HOST:PORT broker=NAME version=V``, once the broker is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from devstack.brokers import BrokerKind, create_broker

__all__ = ["main", "serve"]

logger = logging.getLogger(__name__)


async def serve(
    kind: BrokerKind,
    *,
    port: int | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    auto_create_topics: bool | None = None,
) -> int:
    """Start a broker, print its bootstrap line, and stop it on SIGINT/SIGTERM."""
    broker = create_broker(
        kind,
        port=port,
        data_dir=data_dir,
        cache_dir=cache_dir,
        auto_create_topics=auto_create_topics,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await broker.start()
        print(
            f"bootstrap={broker.bootstrap} broker={broker.name} version={broker.version}",
            flush=True,
        )
        while not stop.is_set():
            if not broker.running:
                print(f"{broker.name} exited unexpectedly", file=sys.stderr)
                return 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        return 0
    finally:
        await broker.stop()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m devstack.kafka", description=__doc__)
    parser.add_argument("kind", choices=["apache", "tansu"])
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None, help="Maven download cache")
    parser.add_argument(
        "--auto-create-topics",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="default: off for apache (Tansu always auto-creates)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    kind: BrokerKind = "apache" if args.kind == "apache" else "tansu"
    return asyncio.run(
        serve(
            kind,
            port=args.port,
            data_dir=args.data_dir,
            cache_dir=args.cache_dir,
            auto_create_topics=args.auto_create_topics,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
