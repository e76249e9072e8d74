"""The command line every service shares: ``python -m <service> [serve|migrate|check-config]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from pydantic import ValidationError

from chassis.logs import configure_logging
from chassis.migrations import upgrade_to_head
from chassis.server import server_config
from chassis.service import Service
from chassis.settings import ServiceSettings
from chassis.telemetry import setup_tracing

S = TypeVar("S", bound=ServiceSettings)
log = logging.getLogger(__name__)


def load_settings(settings_cls: type[S]) -> S:
    """Settings from the environment; a wrong one stops the process with a readable reason."""
    try:
        return settings_cls()
    except ValidationError as exc:
        prefix = str(settings_cls.model_config.get("env_prefix") or "")
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            name = f"{prefix}{where}".upper() if where else "settings"
            lines.append(f"  {name}: {error['msg']}")
        sys.stderr.write(f"{settings_cls.service_name}: invalid configuration\n")
        sys.stderr.write("\n".join(lines) + "\n")
        raise SystemExit(2) from None


def command_settings(settings_cls: type[S]) -> S:
    """Settings for an operator's command, with the log on stderr: stdout is the
    command's answer alone, for scripts."""
    settings = load_settings(settings_cls)
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)
    return settings


def main(
    settings_cls: type[S], build: Callable[[S], Service], argv: list[str] | None = None
) -> None:
    parser = argparse.ArgumentParser(prog=settings_cls.service_name)
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", "check-config"]
    )
    args = parser.parse_args(argv)
    settings = load_settings(settings_cls)
    configure_logging(settings_cls.service_name, settings.log_level, settings.log_format)
    if args.command == "check-config":
        print(f"{settings_cls.service_name}: configuration ok ({settings.environment.value})")
        return
    if args.command == "migrate":
        service = build(settings)
        upgrade_to_head(service.migrations, settings.database_url.get_secret_value())
        log.info("migrations applied")
        return
    setup_tracing(settings_cls.service_name, settings.otlp_endpoint)
    service = build(settings)
    config = server_config(service.app, settings)
    log.info(
        "starting",
        extra={
            "http": f"http://{settings.http_host}:{settings.http_port}",
            "environment": settings.environment.value,
        },
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal into the
    # handlers it found installed; these make that a clean exit with status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    asyncio.run(uvicorn.Server(config).serve())
