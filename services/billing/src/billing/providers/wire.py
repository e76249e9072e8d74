"""Reading what providers send that they all spell alike: ISO 8601 timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def timestamp(value: Any) -> datetime:
    """``2025-01-15T10:00:00.000Z`` and the like; a timestamp without a zone is refused."""
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {value!r}")
    return parsed


def optional_timestamp(value: Any) -> datetime | None:
    return None if value is None else timestamp(value)
