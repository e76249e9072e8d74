"""Placement: which panel takes a new user, free of I/O.

A customer is placed in the region they chose, on the least-loaded panel there that can
take them: enabled, with room (under its capacity), and healthy; a degraded panel (slow,
or some of its nodes down) only when no healthy one has room. Load is relative to weight:
a panel of weight 2 takes twice the users of one of weight 1. A region with nothing to
offer sends the customer to its fallback regions, nearest first. With no panel anywhere
that can take them, the answer is None: the placement waits for one, nothing is lost.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


class Health(enum.StrEnum):
    UNKNOWN = "unknown"  # not probed yet: usable, as a new panel must be to receive anyone
    HEALTHY = "healthy"
    DEGRADED = "degraded"  # answers, but slowly or with nodes down
    DOWN = "down"
    MISCONFIGURED = "misconfigured"  # a protocol without an inbound, a sandbox in production
    INCOMPATIBLE = "incompatible"  # another panel version than its client speaks

    @property
    def serves(self) -> bool:
        """Users on it have working access (as far as the probes know)."""
        return self in (Health.UNKNOWN, Health.HEALTHY, Health.DEGRADED)


# Preference among panels that serve: healthy (or not yet known) before degraded.
_RANK = {Health.HEALTHY: 0, Health.UNKNOWN: 0, Health.DEGRADED: 1}


@dataclass(frozen=True, slots=True)
class Candidate:
    panel_id: str
    region: str
    weight: int
    capacity: int
    """Users it may hold; 0: no limit."""
    placed: int
    """Users it holds now."""
    health: Health
    enabled: bool = True
    protocols: frozenset[str] = frozenset()

    @property
    def has_room(self) -> bool:
        return self.capacity == 0 or self.placed < self.capacity

    def takes(self, protocol: str | None) -> bool:
        return (
            self.enabled
            and self.weight > 0
            and self.health.serves
            and self.has_room
            and (protocol is None or protocol in self.protocols)
        )

    @property
    def load(self) -> float:
        """Users per unit of weight after one more: the least loaded takes the next."""
        return (self.placed + 1) / self.weight


@dataclass(frozen=True, slots=True)
class Choice:
    panel_id: str
    region: str
    fallback: bool
    """The customer's region could not take them: this is one of its fallbacks."""
    protocol_offered: bool = True
    """The panel offers the protocol asked for (or none was): with False, no panel of the
    place that can take the user offers it, and the user gets the panel's protocols."""


def choose_in_region(candidates: Iterable[Candidate], protocol: str | None = None) -> str | None:
    """The panel of one region's candidates that takes the next user, if any."""
    able = [candidate for candidate in candidates if candidate.takes(protocol)]
    if not able:
        return None
    best = min(able, key=lambda c: (_RANK[c.health], c.load, -c.weight, c.panel_id))
    return best.panel_id


def choose(
    candidates: Sequence[Candidate],
    region: str,
    fallbacks: Mapping[str, Sequence[str]],
    protocol: str | None = None,
) -> Choice | None:
    """The panel for a new user of ``region``: in the region, else in its fallbacks in
    order (their own fallbacks are not followed: the operator lists the nearest). Within
    a place, a panel offering ``protocol`` first; if none that can take the user does,
    another of the same place (the customer stays where they chose to be)."""
    by_region: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_region.setdefault(candidate.region, []).append(candidate)
    for index, place in enumerate((region, *fallbacks.get(region, ()))):
        if place == region and index > 0:
            continue
        here = by_region.get(place, ())
        panel = choose_in_region(here, protocol)
        if panel is not None:
            return Choice(panel_id=panel, region=place, fallback=index > 0)
        panel = choose_in_region(here) if protocol is not None else None
        if panel is not None:
            return Choice(panel, place, fallback=index > 0, protocol_offered=False)
    return None


def alternatives(
    candidates: Sequence[Candidate], region: str, fallbacks: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    """The regions to offer a customer whose region cannot take them: its fallbacks that
    can, nearest first."""
    can = {c.region for c in candidates if c.takes(None)}
    return tuple(place for place in fallbacks.get(region, ()) if place in can and place != region)


def available(candidates: Iterable[Candidate], region: str) -> bool:
    """The region can take a new customer now."""
    return any(c.region == region and c.takes(None) for c in candidates)


def offered_protocols(candidates: Iterable[Candidate], region: str) -> tuple[str, ...]:
    """The protocols a new customer of ``region`` can choose: those of its panels that
    can take them now."""
    offered = {p for c in candidates if c.region == region and c.takes(None) for p in c.protocols}
    return tuple(sorted(offered))
