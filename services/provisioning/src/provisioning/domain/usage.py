"""The rules of traffic thresholds: which share of the allowance a customer is told about.

A customer is told when their usage reaches 80 % and 100 % of the allowance, once each.
What is remembered is the highest threshold the usage was at when last seen; within one
allowance the panel's count only grows, so each threshold is crossed, and told, once.
The allowance starts again when the count does (a renewal or a plan change resets it,
the panel's monthly reset too) or when it grows past the usage (a traffic pack): the
usage is then below the thresholds it had reached, and they are armed again.
"""

from __future__ import annotations

from typing import Final

from contracts.provisioning import TRAFFIC_THRESHOLDS

NONE_REACHED: Final = 0
"""Below every threshold, or an unlimited allowance."""

TOLD_STATUSES: Final = frozenset({"active", "limited"})
"""Panel statuses of a customer who is served: one disabled or expired is not told of
traffic they cannot use anyway."""


def reached(used_bytes: int, limit_bytes: int) -> int:
    """The highest threshold (percent) the usage is at or past; ``NONE_REACHED`` below them
    all and for an unlimited allowance (limit 0)."""
    if limit_bytes <= 0:
        return NONE_REACHED
    at_or_past = [t for t in TRAFFIC_THRESHOLDS if used_bytes * 100 >= t * limit_bytes]
    return at_or_past[-1] if at_or_past else NONE_REACHED


def to_announce(before: int, now: int, status: str) -> int | None:
    """The threshold to tell the customer about when the usage went from threshold
    ``before`` to ``now``: the highest newly reached (a look that finds both crossed tells
    only 100 %), none when it stayed or fell (a new allowance) or the customer is not
    served."""
    if now > before and status in TOLD_STATUSES:
        return now
    return None
