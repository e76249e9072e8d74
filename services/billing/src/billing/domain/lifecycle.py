"""The stages of a subscription after its end, and when each comes. Pure, no I/O.

A subscription is paid until ``period_end``. The customer is still served during the grace
that follows, until ``access_until``; then it is suspended (the panel user is disabled,
kept with its link), and after the retention the panel user is removed (billing keeps the
subscription and its history). A payment at any stage makes it active again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Stage(StrEnum):
    """What billing has done about the end: stored, changed only by a due time or a payment."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


class Status(StrEnum):
    """What the customer has at a moment: the stage, with the time around the end told apart."""

    ACTIVE = "active"
    EXPIRING = "expiring"  # within the reminders before the end
    EXPIRED = "expired"  # past the end, in the grace: still served
    SUSPENDED = "suspended"
    REMOVED = "removed"


def access_until(period_end: datetime, grace_hours: int) -> datetime:
    """Until when a period ending at ``period_end`` is served: each order carries the grace
    it was sold with (``BILLING_GRACE_HOURS`` when it was created)."""
    if grace_hours < 0:
        raise ValueError("a grace is never negative")
    return period_end + timedelta(hours=grace_hours)


@dataclass(frozen=True, slots=True)
class Terms:
    """The operator's rules for the due times after an end (``BILLING_RETENTION_DAYS``)."""

    retention: timedelta
    expiring_within: timedelta = timedelta(hours=72)

    def __post_init__(self) -> None:
        if self.retention < timedelta(0):
            raise ValueError("a retention is never negative")

    def remove_at(self, suspended_at: datetime) -> datetime:
        return suspended_at + self.retention


def status_at(
    *, period_end: datetime, access_until: datetime, stage: Stage, now: datetime, terms: Terms
) -> Status:
    if stage is Stage.REMOVED:
        return Status.REMOVED
    if stage is Stage.SUSPENDED:
        return Status.SUSPENDED
    if now >= access_until:
        return Status.SUSPENDED  # its due time not fired yet, but no longer served
    if now >= period_end:
        return Status.EXPIRED
    if period_end - now <= terms.expiring_within:
        return Status.EXPIRING
    return Status.ACTIVE
