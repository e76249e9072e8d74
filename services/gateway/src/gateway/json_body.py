"""Reading a JSON object from a webhook body that anyone on the internet may have written.

The server has already capped the body's size (``chassis.server``). Here it must be UTF-8
(what Telegram and every payment provider send), valid JSON without NaN or Infinity, an
object at the top, nested no deeper than any real notification, and made only of text
that can be written back out (no lone surrogates): anything else is a :class:`BadBody`
with a short reason, never an exception from deep inside a parser.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32
"""Telegram's deepest updates (a reply to a message with a keyboard) nest about 8 deep."""


class BadBody(ValueError):
    """The body is not a JSON object we can take; ``str()`` is the reason for the sender."""


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadBody(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise BadBody(f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(value, dict):
        raise BadBody("not a JSON object")
    _check_shape(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _check_shape(value: dict[str, Any]) -> None:
    """Depth and text, walked without recursion so that no input can exhaust the stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadBody(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody("JSON string holds an unpaired surrogate") from None
