"""The Idempotence-Key store: one answer per (shop, key) for 24 hours after the first request."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from sandbox.yookassa.errors import ApiError, idempotence_key_duplicated, invalid_request

MAX_KEY_LENGTH: Final = 64


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class _Entry:
    fingerprint: str
    response: StoredResponse
    first_seen: datetime


def check_key(key: str | None) -> str:
    if not key:
        raise invalid_request("Idempotence key is missing", "Idempotence-Key")
    if len(key) > MAX_KEY_LENGTH:
        raise invalid_request(
            f"Idempotence key is too long: at most {MAX_KEY_LENGTH} characters are allowed",
            "Idempotence-Key",
        )
    return key


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Hash of the request; JSON bodies are compared by content, not by formatting."""
    try:
        decoded = json.loads(body, parse_float=Decimal) if body.strip() else None
        canonical = json.dumps(
            decoded, sort_keys=True, separators=(",", ":"), default=lambda d: {"$decimal": str(d)}
        )
        content = canonical.encode()
    except ValueError:
        content = body
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(content)
    return digest.hexdigest()


class IdempotenceStore:
    def __init__(self, ttl: timedelta) -> None:
        self._ttl = ttl
        # Insertion order is first-seen order, so expired entries are always at the front.
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(
        self, shop_id: str, key: str, fingerprint: str, now: datetime
    ) -> StoredResponse | None:
        """The stored answer for a repeat; ``None`` for a first request.

        Raises ``Idempotence key duplicated`` when the key was used for another request.
        """
        self._forget_expired(now)
        entry = self._entries.get((shop_id, key))
        if entry is None:
            return None
        if entry.fingerprint != fingerprint:
            raise idempotence_key_duplicated()
        return copy.deepcopy(entry.response)

    def remember(
        self, shop_id: str, key: str, fingerprint: str, response: StoredResponse, now: datetime
    ) -> None:
        self._entries[(shop_id, key)] = _Entry(fingerprint, copy.deepcopy(response), now)

    def clear(self) -> None:
        self._entries.clear()

    def _forget_expired(self, now: datetime) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now - entry.first_seen < self._ttl:
                return
            del self._entries[key]


def error_response(error: ApiError) -> StoredResponse:
    return StoredResponse(error.status, error.body())
