from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.lifecycle import Stage, Status, Terms, access_until, status_at
from billing.domain.periods import Term, next_period

END = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
GRACE_HOURS = 48
TERMS = Terms(retention=timedelta(days=30))
moments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
grace_hours = st.integers(0, 24 * 30)


@pytest.mark.parametrize(
    ("now", "stage", "status"),
    [
        (END - timedelta(days=10), Stage.ACTIVE, Status.ACTIVE),
        (END - timedelta(hours=72), Stage.ACTIVE, Status.EXPIRING),
        (END - timedelta(seconds=1), Stage.ACTIVE, Status.EXPIRING),
        (END, Stage.ACTIVE, Status.EXPIRED),
        (END + timedelta(hours=47), Stage.ACTIVE, Status.EXPIRED),
        # The grace is over and its due time has not fired yet: no longer served.
        (END + timedelta(hours=48), Stage.ACTIVE, Status.SUSPENDED),
        (END + timedelta(hours=49), Stage.SUSPENDED, Status.SUSPENDED),
        (END + timedelta(days=40), Stage.REMOVED, Status.REMOVED),
    ],
)
def test_the_status_at_each_moment_around_the_end(
    now: datetime, stage: Stage, status: Status
) -> None:
    until = access_until(END, GRACE_HOURS)
    assert status_at(period_end=END, access_until=until, stage=stage, now=now, terms=TERMS) == (
        status
    )


def test_without_a_grace_the_end_is_the_suspension() -> None:
    terms = Terms(retention=timedelta(days=1))
    assert access_until(END, 0) == END
    assert (
        status_at(period_end=END, access_until=END, stage=Stage.ACTIVE, now=END, terms=terms)
        is Status.SUSPENDED
    )


def test_grace_and_retention_are_never_negative() -> None:
    with pytest.raises(ValueError, match="never negative"):
        access_until(END, -1)
    with pytest.raises(ValueError, match="never negative"):
        Terms(retention=timedelta(days=-1))


@given(
    end=moments,
    grace=grace_hours,
    paid_after_end=st.integers(0, 60 * 86400),
    days=st.integers(1, 400),
)
def test_paid_in_the_grace_it_continues_from_the_end_after_it_from_the_payment(
    end: datetime, grace: int, paid_after_end: int, days: int
) -> None:
    paid_at = end + timedelta(seconds=paid_after_end)
    served_until = access_until(end, grace)
    period = next_period(end, paid_at, Term(days=days), served_until=served_until)
    assert period.previous_end == end
    assert period.end - period.start == timedelta(days=days)
    if paid_at < served_until:
        assert period.start == end  # the grace was served, not free
    else:
        assert period.start == paid_at  # the gap after the suspension is not charged


@given(end=moments, grace=grace_hours, paid_before_end=st.integers(1, 60 * 86400))
def test_paid_before_the_end_it_always_continues_from_the_end(
    end: datetime, grace: int, paid_before_end: int
) -> None:
    paid_at = end - timedelta(seconds=paid_before_end)
    assert (
        next_period(end, paid_at, Term(days=30), served_until=access_until(end, grace)).start == end
    )


@given(end=moments, grace=grace_hours, now=moments)
def test_a_status_is_suspended_exactly_when_it_is_no_longer_served(
    end: datetime, grace: int, now: datetime
) -> None:
    terms = Terms(retention=timedelta(days=30))
    until = access_until(end, grace)
    status = status_at(period_end=end, access_until=until, stage=Stage.ACTIVE, now=now, terms=terms)
    assert (status is Status.SUSPENDED) == (now >= until)
    assert (status is Status.EXPIRED) == (end <= now < until)
