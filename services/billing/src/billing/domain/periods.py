"""Subscription periods: when a paid order's access starts and ends. Pure, no I/O.

All of it is UTC. A plan lasts a number of days or a number of calendar months; a month
period ends on the same day of the month as the subscription's months began (its anchor
day), or on the month's last day when the month is shorter: bought on 31 January, it ends
on 28 February (29 in a leap year), then on 31 March.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Term:
    """How long one paid period lasts: ``days`` or calendar ``months``, exactly one of them."""

    days: int = 0
    months: int = 0

    def __post_init__(self) -> None:
        if (self.days > 0) == (self.months > 0) or self.days < 0 or self.months < 0:
            raise ValueError(f"a term is a positive number of days or of months: {self}")

    @classmethod
    def of(cls, *, days: int, months: int) -> Term:
        """A plan's term from its columns: its months when it has any, else its days."""
        return cls(months=months) if months > 0 else cls(days=days)

    def end(self, start: datetime, anchor_day: int | None = None) -> datetime:
        """The end of a period of this term starting at ``start``."""
        if self.months:
            return add_months(start, self.months, anchor_day or _utc(start).day)
        return start + timedelta(days=self.days)


def add_months(moment: datetime, months: int, anchor_day: int) -> datetime:
    """``moment`` moved by whole calendar months onto ``anchor_day`` (or the month's last
    day), at the same time of day, in UTC."""
    if not 1 <= anchor_day <= 31:
        raise ValueError(f"not a day of a month: {anchor_day}")
    moment = _utc(moment)
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(anchor_day, monthrange(year, month)[1]))


def on_anchor(moment: datetime, anchor_day: int) -> bool:
    """Whether ``moment`` falls on ``anchor_day`` (or on its month's last day, for a shorter
    month)."""
    moment = _utc(moment)
    return moment.day == min(anchor_day, monthrange(moment.year, moment.month)[1])


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("periods are computed on aware datetimes (UTC)")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime
    previous_end: datetime | None
    """End of the access before this order; ``None`` when the order starts a subscription."""
    anchor_day: int | None = None
    """The day of the month the subscription's month periods end on; ``None`` until a
    month plan is bought."""

    @property
    def is_extension(self) -> bool:
        return self.previous_end is not None


def next_period(
    current_end: datetime | None,
    paid_at: datetime,
    term: Term,
    *,
    served_until: datetime | None = None,
    anchor_day: int | None = None,
) -> Period:
    """The period one order of ``term`` buys.

    A first order starts at payment. A later one continues from the current end, so paying
    early loses no day. Paid during the grace after the end (until ``served_until``, the
    customer still connected) it continues from the end too: the grace is not free time.
    Paid later, after the suspension, it starts at payment, so the gap is not charged.

    A continuing subscription keeps its ``anchor_day`` while its end is on it; one that
    starts again (or buys its first month plan) is anchored on the day it starts.
    """
    if current_end is None:
        start, previous, anchor = paid_at, None, None
    else:
        served = max(current_end, served_until or current_end)
        continues = paid_at < served
        start = current_end if continues else paid_at
        previous, anchor = current_end, anchor_day if continues else None
    if term.months and (anchor is None or not on_anchor(start, anchor)):
        # A days plan bought in between moved the end off the anchor: a month from there.
        anchor = _utc(start).day
    return Period(
        start=start, end=term.end(start, anchor), previous_end=previous, anchor_day=anchor
    )
