"""Drift: how a panel user differs from what provisioning holds for it.

Pure rule, no I/O: reconciliation reads the panel's users and the placements, and asks
this module what is wrong. What the panel does by itself within the desired state is not
drift: a user ``limited`` because its traffic ran out, or ``expired`` by the panel at the
desired expiry, is as it should be.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PREFIX = "vpn_"
"""The platform's panel users, and only them, have names starting with this."""


class Drift(StrEnum):
    MISSING = "missing"
    """Access is wanted and the panel has no user."""
    EXPIRY = "expiry"
    LIMIT = "limit"
    """The traffic limit or the panel's reset strategy."""
    STATUS = "status"
    """Disabled while access is wanted, or enabled while billing ended it."""
    ENABLED_AFTER_EXPIRY = "enabled_after_expiry"
    PROTOCOLS = "protocols"
    UNPAID = "unpaid"
    """A user with our prefix that no placement on the panel knows, not disabled."""


@dataclass(frozen=True, slots=True)
class Seen:
    """A panel user as reconciliation compares it."""

    status: str
    expires_at: int
    """Unix seconds; 0: never."""
    traffic_limit_bytes: int
    """0: unlimited."""
    traffic_reset: str
    protocols: frozenset[str]


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a placement says its panel user should be, at the moment compared."""

    expires_at: int
    traffic_limit_bytes: int
    traffic_reset: str
    access: bool
    """Billing's stage is active and the expiry has not come."""
    expired: bool
    """The desired expiry has passed (access over by time, not by billing's stage)."""
    protocols: frozenset[str]
    """The panel's configured protocols; empty: not compared."""
    removed: bool = False
    """Billing removed the subscription: the panel should have no user."""


_SERVING = frozenset({"active", "limited"})
"""Statuses of a user whose access is as wanted (limited: its own traffic ran out)."""
_NOT_SERVING = frozenset({"disabled", "expired"})


def drift_of(wanted: Wanted | None, seen: Seen | None) -> tuple[Drift, ...]:
    """What is wrong with a panel user of ours (``seen``; None: absent) given its
    placement on that panel (``wanted``; None: no placement there knows it)."""
    if wanted is None:
        if seen is None or seen.status == "disabled":
            return ()
        return (Drift.UNPAID,)
    if seen is None:
        return (Drift.MISSING,) if wanted.access and not wanted.removed else ()
    if wanted.removed:
        # Our own user, which billing said to delete: the worker deletes it again.
        return (Drift.STATUS,)
    found: list[Drift] = []
    if seen.expires_at != wanted.expires_at:
        found.append(Drift.EXPIRY)
    if (
        seen.traffic_limit_bytes != wanted.traffic_limit_bytes
        or seen.traffic_reset != wanted.traffic_reset
    ):
        found.append(Drift.LIMIT)
    if wanted.access:
        # Expired by the panel at the desired expiry (its clock a little ahead) is right;
        # expired at another expiry is the expiry's drift, repaired with it.
        if seen.status not in _SERVING and seen.status != "expired":
            found.append(Drift.STATUS)
    elif seen.status not in _NOT_SERVING:
        found.append(Drift.ENABLED_AFTER_EXPIRY if wanted.expired else Drift.STATUS)
    if wanted.protocols and seen.protocols != wanted.protocols:
        found.append(Drift.PROTOCOLS)
    return tuple(found)


def placement_repairs(drifts: tuple[Drift, ...]) -> bool:
    """Whether the placement worker repairs these (it sets expiry, limit, status, and
    creates a missing user); protocols are set, and an unpaid user disabled, by
    reconciliation itself (no placement of that panel has the user)."""
    return any(drift not in _DIRECT for drift in drifts)


_DIRECT = frozenset({Drift.PROTOCOLS, Drift.UNPAID})
