"""Structured JSON logs that carry the current trace and span ids and never secrets."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

# Keys whose values never reach a log line, whatever a caller passes in ``extra``.
_SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|authorization|api[_-]?key|cookie|dsn|database_url|"
    r"phone|e-?mail|card)",
    re.IGNORECASE,
)
# Credentials embedded in URLs (postgresql://user:secret@host) and bot tokens in paths.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):[^@/\s]+@")
_BOT_TOKEN = re.compile(r"\bbot\d{5,}:[A-Za-z0-9_-]{20,}")

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    # uvicorn's terminal colouring of its own message repeats the message.
    | {"message", "asctime", "color_message"}
)


def redact(text: str) -> str:
    """Strip credentials that may hide inside free text (URLs, bot tokens)."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)
    return _BOT_TOKEN.sub("bot***", text)


def _clean(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key):
        return "***"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _clean(key, value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """One readable line: time, level, logger, message, then the structured fields as
    ``key=value`` (quoted when they hold spaces), so a text log loses nothing the JSON has."""

    def __init__(self, service: str) -> None:
        super().__init__(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [
            f"{key}={_text_value(_clean(key, value))}"
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        ]
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            fields.append(f"trace_id={span.trace_id:032x}")
        if fields:
            head, newline, rest = line.partition("\n")
            line = f"{head} {' '.join(fields)}{newline}{rest}"
        return redact(line)


def _text_value(value: Any) -> str:
    text = "null" if value is None else str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Route every logger (ours, uvicorn's, aiokafka's, FastStream's) through one formatter."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Per-message and per-request lines (FastStream's received/processed, uvicorn's access
    # log, httpx's every call, aiogram's every update) would drown the useful ones and cost
    # real CPU at a few hundred purchases a second; traces and metrics carry that detail.
    for chatty in (
        "uvicorn.access",
        "faststream.access",
        f"faststream.{service}",
        "aiokafka",
        "httpx",
        "aiogram.event",
    ):
        logging.getLogger(chatty).setLevel(logging.WARNING)
