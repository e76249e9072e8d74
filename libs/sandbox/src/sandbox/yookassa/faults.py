"""Planned failures of single API calls: a 500 whose result is unknown, or a 429.

An outage (``sandbox.outage``) fails every request with whatever the proxy in front says;
these are YooKassa's own JSON answers to the next few calls of one operation, so that a
client's retry with the same Idempotence-Key is exercised.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sandbox.yookassa.errors import (
    ApiError,
    internal_server_error,
    invalid_request,
    too_many_requests,
)
from sandbox.yookassa.model import JsonObject

OPERATIONS: Final = frozenset(
    {"create_payment", "capture_payment", "cancel_payment", "create_refund"}
)
FAULT_ERRORS: Final[dict[int, Callable[[], ApiError]]] = {
    500: internal_server_error,
    429: too_many_requests,
}
MAX_FAULT_COUNT: Final = 100


@dataclass
class PlannedFault:
    """``remaining`` calls of ``operation`` answer ``status``.

    ``executed``: the operation is carried out and only its answer is lost (a 500 only), so
    a repeat with the same key gets the stored result; otherwise nothing happens.
    """

    operation: str
    status: int
    remaining: int
    executed: bool

    def error(self) -> ApiError:
        return FAULT_ERRORS[self.status]()

    def to_json(self) -> JsonObject:
        return {
            "operation": self.operation,
            "status": self.status,
            "remaining": self.remaining,
            "executed": self.executed,
        }


class FaultPlan:
    def __init__(self) -> None:
        self._planned: deque[PlannedFault] = deque()

    def plan(self, operation: str, status: int, count: int, *, executed: bool) -> PlannedFault:
        if operation not in OPERATIONS:
            raise invalid_request(
                f"operation must be one of {', '.join(sorted(OPERATIONS))}", "operation"
            )
        if status not in FAULT_ERRORS:
            raise invalid_request("status must be 500 or 429", "status")
        if not 1 <= count <= MAX_FAULT_COUNT:
            raise invalid_request(f"count must be from 1 to {MAX_FAULT_COUNT}", "count")
        if executed and status != 500:
            raise invalid_request("A rate-limited request is never carried out", "executed")
        fault = PlannedFault(operation, status, count, executed)
        self._planned.append(fault)
        return fault

    def take(self, operation: str) -> PlannedFault | None:
        """The fault that answers this call, if one is planned; planned faults go in order."""
        for fault in self._planned:
            if fault.operation == operation:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._planned.remove(fault)
                return fault
        return None

    def planned(self) -> list[PlannedFault]:
        return list(self._planned)

    def clear(self) -> None:
        self._planned.clear()
