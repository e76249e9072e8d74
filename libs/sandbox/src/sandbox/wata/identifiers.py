"""Ids, access tokens and timestamps shaped like WATA's."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

# WATA runs on ABP, whose sequential GUIDs start with the creation time: milliseconds since
# 0001-01-01 in the first six bytes (the reference's ``3a16a4f0-27b0-…`` is 2024-12-04).
_DOTNET_EPOCH: Final = datetime(1, 1, 1, tzinfo=UTC)


def sequential_guid(now: datetime) -> str:
    millis = (now - _DOTNET_EPOCH) // timedelta(milliseconds=1)
    return str(uuid.UUID(bytes=millis.to_bytes(6, "big") + secrets.token_bytes(10)))


def canonical_guid(text: str) -> str | None:
    """The lowercase hyphenated form of a GUID, or None for anything that is not one."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def new_access_token(terminal_public_id: str, now: datetime) -> str:
    """An opaque token that looks like the JWT the cabinet issues (clients never decode it)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = json.dumps({"alg": "RS256", "typ": "JWT"}).encode()
    claims = {"sub": terminal_public_id, "iat": int(now.timestamp()), "jti": secrets.token_hex(8)}
    return ".".join(
        (part(header), part(json.dumps(claims).encode()), part(secrets.token_bytes(32)))
    )


def format_millis(moment: datetime) -> str:
    """``2025-01-15T10:00:00.000Z``, as a link's ``creationTime``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_micros(moment: datetime) -> str:
    """``2025-01-15T10:01:10.434598Z``, as a webhook's ``paymentTime``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_instant(moment: datetime) -> str:
    """``2025-01-15T11:00:00Z``, with a fraction only when there is one."""
    utc = moment.astimezone(UTC)
    return format_micros(utc) if utc.microsecond else utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime | None:
    """An ISO-8601 moment; one without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
