"""A panel's health from its probes, free of I/O.

A probe either answers (with its latency, the nodes that are down and the protocols it
lacks) or fails (unreachable, credentials refused, another version). Consecutive
failures move a panel from healthy to degraded, and after ``down_after`` of them to down;
one answer brings it back. A slow answer, or nodes down, is degraded. A panel without an
inbound for a protocol it is configured with is misconfigured, and one of another version
incompatible: both at once, as no retry will change them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from provisioning.domain.placement import Health


class Failure(enum.StrEnum):
    UNAVAILABLE = "unavailable"
    CREDENTIALS = "credentials"
    INCOMPATIBLE = "incompatible"


@dataclass(frozen=True, slots=True)
class Answered:
    latency_ms: int
    nodes_down: tuple[str, ...] = ()
    missing_protocols: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Failed:
    failure: Failure
    detail: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    down_after: int = 3
    """Consecutive failed probes before a panel is down."""
    slow_ms: int = 2_000
    """An answer slower than this is degraded."""


@dataclass(frozen=True, slots=True)
class Assessment:
    health: Health
    reason: str | None
    failures: int


def assess(failures: int, probe: Answered | Failed, thresholds: Thresholds) -> Assessment:
    """The panel's health after ``probe``, given the failed probes before it."""
    if isinstance(probe, Failed):
        if probe.failure is Failure.INCOMPATIBLE:
            return Assessment(Health.INCOMPATIBLE, probe.detail, failures + 1)
        count = failures + 1
        reason = (
            f"credentials refused: {probe.detail}"
            if probe.failure is Failure.CREDENTIALS
            else probe.detail
        )
        down = count >= thresholds.down_after
        return Assessment(Health.DOWN if down else Health.DEGRADED, reason, count)
    if probe.missing_protocols:
        return Assessment(
            Health.MISCONFIGURED, "no inbound for " + ", ".join(probe.missing_protocols), 0
        )
    if probe.nodes_down:
        return Assessment(Health.DEGRADED, "nodes down: " + ", ".join(probe.nodes_down), 0)
    if probe.latency_ms > thresholds.slow_ms:
        return Assessment(Health.DEGRADED, f"slow: answered in {probe.latency_ms} ms", 0)
    return Assessment(Health.HEALTHY, None, 0)
