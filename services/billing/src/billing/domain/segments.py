"""Customer segments: which groups a customer is in at a moment, for campaigns. Pure, no I/O.

A customer's segments follow from a few facts billing keeps (``Facts``) and the time. The
facts change only when something happens to the customer (a payment, a refund, a trial, a
language or region change); between such changes the segments move by time alone, and
only at the moments :func:`next_change` names, around the subscription's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID


class Segment(StrEnum):
    ACTIVE = "active"
    """A period runs: ``period_end`` is ahead (paid, a trial or free days alike)."""
    EXPIRING = "expiring"
    """Active, and the period ends within ``SegmentTerms.expiring_within``."""
    EXPIRED = "expired"
    """Had a subscription whose period has ended: in the grace, suspended or removed."""
    TRIAL_ONLY = "trial_only"
    """Had the free trial and never paid for a plan."""
    NEVER_PAID = "never_paid"
    """Never paid for a plan (a trial, free days and a top-up are no payment for a plan)."""
    CHURNED = "churned_30d"
    """A payer whose period ended within ``SegmentTerms.churned_within`` and was not renewed."""


LANGUAGE_PREFIX = "language:"
REGION_PREFIX = "region:"


@dataclass(frozen=True, slots=True)
class SegmentTerms:
    """The operator's windows (``BILLING_SEGMENTS_EXPIRING_HOURS``, ``..._CHURNED_DAYS``)."""

    expiring_within: timedelta = timedelta(hours=72)
    churned_within: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if self.expiring_within < timedelta(0) or self.churned_within < timedelta(0):
            raise ValueError("a segment's window is never negative")


@dataclass(frozen=True, slots=True)
class Facts:
    """What billing knows of a customer that their segments depend on.

    Only the subscription's ``period_end`` is needed of it: the grace, the suspension and
    the removal all come after the end, and are all ``expired``.
    """

    customer_id: UUID
    language: str
    region: str | None
    """Where the subscription's access is, as provisioning last granted it."""
    first_paid_at: datetime | None
    """The first paid plan order, not counting complimentary ones (trials, free days,
    referral days); a payment refunded later was still made."""
    trial_started_at: datetime | None
    period_end: datetime | None
    """None for a customer who never had a subscription."""

    @property
    def payer(self) -> bool:
        return self.first_paid_at is not None


def segments_at(facts: Facts, now: datetime, terms: SegmentTerms) -> tuple[str, ...]:
    """The customer's segments at ``now``, in a fixed order (the ``Segment`` order, then
    language and region), so that two computations compare equal exactly when they agree."""
    found: list[str] = []
    end = facts.period_end
    if end is not None and end > now:
        found.append(Segment.ACTIVE.value)
        if end - now <= terms.expiring_within:
            found.append(Segment.EXPIRING.value)
    elif end is not None:
        found.append(Segment.EXPIRED.value)
    if not facts.payer:
        if facts.trial_started_at is not None:
            found.append(Segment.TRIAL_ONLY.value)
        found.append(Segment.NEVER_PAID.value)
    elif end is not None and end <= now < end + terms.churned_within:
        found.append(Segment.CHURNED.value)
    found.append(LANGUAGE_PREFIX + facts.language)
    if facts.region is not None:
        found.append(REGION_PREFIX + facts.region)
    return tuple(found)


def next_change(facts: Facts, now: datetime, terms: SegmentTerms) -> datetime | None:
    """The first moment after ``now`` at which the segments change by time alone (they hold
    from each such moment until the next); None when only new facts can change them."""
    end = facts.period_end
    if end is None:
        return None
    expiring_from = end - terms.expiring_within
    if now < expiring_from:
        return expiring_from
    if now < end:
        return end
    churn_over = end + terms.churned_within
    if facts.payer and now < churn_over:
        return churn_over
    return None
