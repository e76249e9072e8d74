"""Object ids and timestamps shaped like YooKassa's."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import Enum
from typing import Final

# Real ids start with the creation time in seconds since 2000-01-01, in hex
# (``2d9fa2e9`` is April 2024); the second group names the kind of object.
_EPOCH_2000: Final = 946_684_800


class ObjectKind(Enum):
    PAYMENT = "000f"
    REFUND = "0015"


def new_object_id(kind: ObjectKind, now: datetime) -> str:
    seconds = (int(now.timestamp()) - _EPOCH_2000) & 0xFFFF_FFFF
    variant = secrets.choice("89ab")
    return f"{seconds:08x}-{kind.value}-5000-{variant}000-{secrets.token_hex(6)}"


def format_timestamp(moment: datetime) -> str:
    """``2025-01-15T10:00:00.000Z``"""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))
