"""The threshold rules: each threshold told once per allowance, armed again by a new one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from provisioning.domain.usage import NONE_REACHED, reached, to_announce

GIB = 1024**3


def test_the_thresholds_are_80_and_100_percent_of_a_limit() -> None:
    assert reached(79 * GIB, 100 * GIB) == NONE_REACHED
    assert reached(80 * GIB, 100 * GIB) == 80
    assert reached(99 * GIB, 100 * GIB) == 80
    assert reached(100 * GIB, 100 * GIB) == 100
    assert reached(130 * GIB, 100 * GIB) == 100


def test_an_unlimited_allowance_reaches_nothing() -> None:
    assert reached(10**15, 0) == NONE_REACHED


def test_the_highest_threshold_newly_reached_is_told_to_a_served_customer() -> None:
    assert to_announce(NONE_REACHED, 80, "active") == 80
    assert to_announce(NONE_REACHED, 100, "limited") == 100  # both in one look: 100 only
    assert to_announce(80, 80, "active") is None
    assert to_announce(100, NONE_REACHED, "active") is None  # a new allowance
    assert to_announce(NONE_REACHED, 80, "disabled") is None
    assert to_announce(NONE_REACHED, 100, "expired") is None


def _told(looks: list[tuple[int, int]]) -> list[int]:
    """Thresholds told over a sequence of looks (used, limit), as the watch keeps them."""
    told, before = [], NONE_REACHED
    for used, limit in looks:
        now = reached(used, limit)
        if (threshold := to_announce(before, now, "active")) is not None:
            told.append(threshold)
        before = now
    return told


growing_usage = st.lists(st.integers(min_value=0, max_value=200 * GIB), max_size=30).map(sorted)
limits = st.integers(min_value=1, max_value=200 * GIB)


@given(growing_usage, limits)
def test_within_one_allowance_no_threshold_is_told_twice(used: list[int], limit: int) -> None:
    told = _told([(u, limit) for u in used])
    assert len(told) == len(set(told))
    assert told == sorted(told)
    # and the last look's threshold is told, unless the usage skipped 80 % for 100 %
    expected = {reached(u, limit) for u in used} - {NONE_REACHED}
    assert set(told) <= expected
    if used and reached(used[-1], limit) != NONE_REACHED:
        assert told[-1] == reached(used[-1], limit)


@given(growing_usage, growing_usage, limits)
def test_a_renewal_arms_the_thresholds_again(
    first: list[int], second: list[int], limit: int
) -> None:
    """The count starts again from zero: what the new allowance reaches is told again,
    whatever the old one reached."""
    renewed = [(0, limit), *((u, limit) for u in second)]
    told = _told([*((u, limit) for u in first), *renewed])
    assert told[len(_told([(u, limit) for u in first])) :] == _told(renewed)
