"""JSON as WATA writes it: compact, UTF-8, amounts as numbers with their two decimals.

``json.dumps`` cannot write ``299.00`` (a float loses the zeros, a ``Decimal`` is refused),
and the webhook signature covers the exact bytes, so the encoder is our own.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def dumps(value: Any) -> bytes:
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, dict):
        members = (
            f"{json.dumps(str(key), ensure_ascii=False)}:{_encode(item)}"
            for key, item in value.items()
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def loads(raw: bytes) -> Any:
    """Decoded JSON with exact decimals; NaN and Infinity are not JSON and are refused."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not valid JSON")

    return json.loads(raw, parse_float=Decimal, parse_constant=refuse)
