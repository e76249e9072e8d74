"""``make up``: the whole platform on this machine, on embedded defaults.

What runs is described in :mod:`devstack.runtime`: embedded PostgreSQL (data in
``.data/postgres``) and Tansu unless real ones are named, the sandboxes for every third
party without real credentials, and the five services. Ctrl-C stops the services, then
the sandboxes, the broker and the database; nothing is left running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from devstack.paths import default_data_dir
from devstack.platform import PlatformError
from devstack.runtime import LocalRuntime

log = logging.getLogger("devstack.up")


def _say(text: str) -> None:
    sys.stdout.write(f"{'up':<12}| {text}\n")
    sys.stdout.flush()


async def run() -> int:
    data_dir = default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_requested.set)

    runtime = LocalRuntime(data_dir=data_dir, say=_say)
    try:
        platform = await runtime.start()
        for name, url in platform.urls.items():
            _say(f"  {name:<13} {url}   (health {url}/readyz, metrics {url}/metrics)")
        if not os.environ.get("BOT_TELEGRAM_BOT_TOKEN"):
            _say("chat with the sandbox bot from another terminal: make chat")
        _say("press Ctrl-C to stop")

        stop_wait = asyncio.create_task(stop_requested.wait())
        exit_wait = asyncio.create_task(platform.wait_for_exit())
        done, _ = await asyncio.wait({stop_wait, exit_wait}, return_when=asyncio.FIRST_COMPLETED)
        if exit_wait in done:
            name, status = exit_wait.result()
            _say(f"{name} exited with status {status}; stopping everything")
            return 1
        stop_wait.cancel()
        exit_wait.cancel()
        return 0
    except PlatformError as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        _say("stopping")
        unclean = {n: s for n, s in (await runtime.stop()).items() if s != 0}
        if unclean:
            _say(f"services that did not exit cleanly: {unclean}")
        _say("stopped; no process left behind")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format=f"{'up':<12}| %(levelname)s %(message)s")
    raise SystemExit(asyncio.run(run()))


if __name__ == "__main__":
    main()
