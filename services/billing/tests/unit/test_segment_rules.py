import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.segments import Facts, Segment, SegmentTerms, next_change, segments_at
from contracts.billing import CUSTOMER_SEGMENTS, CustomerSegmentsChanged

END = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
PAID = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TERMS = SegmentTerms()
moments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
maybe_moments = st.none() | moments
# Most moments worth looking at are near a subscription's end: drawn around it, in seconds.
around_the_end = st.integers(-90 * 86400, 90 * 86400)
terms = st.builds(
    SegmentTerms,
    expiring_within=st.integers(0, 30 * 86400).map(lambda s: timedelta(seconds=s)),
    churned_within=st.integers(0, 90 * 86400).map(lambda s: timedelta(seconds=s)),
)
facts = st.builds(
    Facts,
    customer_id=st.just(uuid.UUID(int=1)),
    language=st.sampled_from(["ru", "en", "pt-BR"]),
    region=st.none() | st.sampled_from(["nl", "de-fra"]),
    first_paid_at=maybe_moments,
    trial_started_at=maybe_moments,
    period_end=maybe_moments,
)


def moment(facts: Facts, offset: int) -> datetime:
    return (facts.period_end or END) + timedelta(seconds=offset)


def customer(
    *,
    paid: bool = True,
    trial: bool = False,
    end: datetime | None = END,
    region: str | None = "nl",
) -> Facts:
    return Facts(
        customer_id=uuid.UUID(int=1),
        language="ru",
        region=region,
        first_paid_at=PAID if paid else None,
        trial_started_at=PAID if trial else None,
        period_end=end,
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (END - timedelta(days=10), ("active",)),
        (END - timedelta(hours=72), ("active", "expiring")),
        (END - timedelta(seconds=1), ("active", "expiring")),
        (END, ("expired", "churned_30d")),
        (END + timedelta(days=30) - timedelta(seconds=1), ("expired", "churned_30d")),
        (END + timedelta(days=30), ("expired",)),
    ],
)
def test_a_payer_around_the_end(now: datetime, expected: tuple[str, ...]) -> None:
    assert segments_at(customer(), now, TERMS) == (*expected, "language:ru", "region:nl")


def test_a_trial_only_customer_never_churns() -> None:
    trial = customer(paid=False, trial=True, region=None)
    assert segments_at(trial, END - timedelta(days=1), TERMS) == (
        "active",
        "expiring",
        "trial_only",
        "never_paid",
        "language:ru",
    )
    assert segments_at(trial, END + timedelta(days=1), TERMS) == (
        "expired",
        "trial_only",
        "never_paid",
        "language:ru",
    )
    assert next_change(trial, END, TERMS) is None


def test_a_customer_who_never_subscribed_is_never_paid_and_changes_only_with_facts() -> None:
    newcomer = customer(paid=False, end=None, region=None)
    assert segments_at(newcomer, END, TERMS) == ("never_paid", "language:ru")
    assert next_change(newcomer, END, TERMS) is None


def test_the_next_changes_are_the_expiring_window_the_end_and_the_churn_window() -> None:
    payer = customer()
    assert next_change(payer, END - timedelta(days=10), TERMS) == END - timedelta(hours=72)
    assert next_change(payer, END - timedelta(hours=72), TERMS) == END
    assert next_change(payer, END, TERMS) == END + timedelta(days=30)
    assert next_change(payer, END + timedelta(days=30), TERMS) is None


def test_the_contract_names_every_segment_and_takes_language_and_region_ones() -> None:
    assert tuple(Segment) == CUSTOMER_SEGMENTS
    event = CustomerSegmentsChanged(
        customer_id=uuid.UUID(int=1),
        segments=segments_at(customer(region="de-fra"), END, TERMS),
        language="ru",
        region="de-fra",
        as_of=END,
    )
    assert event.segments == ("expired", "churned_30d", "language:ru", "region:de-fra")


def test_windows_are_never_negative() -> None:
    with pytest.raises(ValueError, match="never negative"):
        SegmentTerms(expiring_within=timedelta(hours=-1))
    with pytest.raises(ValueError, match="never negative"):
        SegmentTerms(churned_within=timedelta(days=-1))


@given(facts=facts, offset=around_the_end, terms=terms, data=st.data())
def test_nothing_changes_before_the_next_change_and_something_changes_at_it(
    facts: Facts, offset: int, terms: SegmentTerms, data: st.DataObject
) -> None:
    now = moment(facts, offset)
    at_now = segments_at(facts, now, terms)
    change = next_change(facts, now, terms)
    horizon = change if change is not None else now + timedelta(days=3650)
    assert horizon > now
    before = data.draw(st.integers(0, (horizon - now) // timedelta(microseconds=1) - 1))
    assert segments_at(facts, now + timedelta(microseconds=before), terms) == at_now
    if change is None:
        assert segments_at(facts, horizon, terms) == at_now
    else:
        assert segments_at(facts, change, terms) != at_now


@given(facts=facts, offset=around_the_end, terms=terms)
def test_segments_are_consistent_with_each_other(
    facts: Facts, offset: int, terms: SegmentTerms
) -> None:
    now = moment(facts, offset)
    segments = set(segments_at(facts, now, terms))
    assert "expiring" not in segments or "active" in segments
    assert ("active" in segments) + ("expired" in segments) == (facts.period_end is not None)
    assert "trial_only" not in segments or "never_paid" in segments
    assert ("never_paid" in segments) != facts.payer
    assert "churned_30d" not in segments or ({"expired"} <= segments and facts.payer)
    assert f"language:{facts.language}" in segments


@given(facts=facts, offset=around_the_end, terms=terms)
def test_time_alone_changes_the_segments_at_most_three_times(
    facts: Facts, offset: int, terms: SegmentTerms
) -> None:
    moves = 0
    change = next_change(facts, moment(facts, offset), terms)
    while change is not None:
        moves += 1
        assert moves <= 3
        change = next_change(facts, change, terms)
