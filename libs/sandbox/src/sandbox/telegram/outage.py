"""A switch that makes the Bot API fail, for tests of what a bot does when Telegram does.

``flood``: every matching call is answered with Telegram's exact 429 (``retry after N`` in
the body, ``parameters.retry_after`` and the ``Retry-After`` header), as flood control does.
``error``: every matching call gets a 5xx from the nginx in front of the Bot API (the page
api.telegram.org serves while its backend is down; 500 is a bare text). Either way the
emulator does nothing: a failed call changes no chat. ``methods`` limits the outage to
some methods (case-insensitive; empty: all of them). The control API is never affected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

OutageMode = Literal["flood", "error"]


@dataclass(frozen=True)
class Outage:
    mode: OutageMode
    status: int = 502
    retry_after: int = 5
    methods: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.mode not in ("flood", "error"):
            raise ValueError("mode must be 'flood' or 'error'")
        if self.mode == "error" and not 500 <= self.status <= 599:
            raise ValueError("status must be a 5xx code")
        if not 1 <= self.retry_after <= 3600:
            raise ValueError("retry_after must be 1-3600 seconds")

    def applies_to(self, method: str) -> bool:
        return not self.methods or method.lower() in self.methods

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "status": 429 if self.mode == "flood" else self.status,
            "retry_after": self.retry_after if self.mode == "flood" else None,
            "methods": sorted(self.methods),
        }
