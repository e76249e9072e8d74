"""Flood control for sends: about one message a second per chat with short bursts, about
30 a second per bot overall (1000 with allow_paid_broadcast). Telegram publishes no exact
algorithm; token buckets give the documented rates and the bursts the FAQ allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

CHAT_RATE = 1.0
CHAT_BURST = 3.0
BOT_RATE = 30.0
PAID_BROADCAST_RATE = 1000.0


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float
    updated: float

    def wait(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class SendRateLimiter:
    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._buckets: dict[tuple[str, int, int], TokenBucket] = {}

    def acquire(self, bot_id: int, chat_id: int, *, paid_broadcast: bool) -> int | None:
        """Take one send; None when allowed, else the whole seconds to wait (at least 1)."""
        now = self._monotonic()
        buckets = [
            self._bucket(("chat", bot_id, chat_id), CHAT_RATE, CHAT_BURST, now),
            self._bucket(("paid", bot_id, 0), PAID_BROADCAST_RATE, PAID_BROADCAST_RATE, now)
            if paid_broadcast
            else self._bucket(("bot", bot_id, 0), BOT_RATE, BOT_RATE, now),
        ]
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take()
        return None

    def clear(self) -> None:
        self._buckets.clear()

    def _bucket(
        self, key: tuple[str, int, int], rate: float, capacity: float, now: float
    ) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate, capacity, capacity, now)
        return bucket
