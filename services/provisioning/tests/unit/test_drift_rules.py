from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from provisioning.domain.drift import Drift, Seen, Wanted, drift_of, placement_repairs

GIB = 1024**3
VLESS = frozenset({"vless"})
WANTED = Wanted(
    expires_at=1_800_000_000,
    traffic_limit_bytes=100 * GIB,
    traffic_reset="none",
    access=True,
    expired=False,
    protocols=VLESS,
)
SEEN = Seen(
    status="active",
    expires_at=1_800_000_000,
    traffic_limit_bytes=100 * GIB,
    traffic_reset="none",
    protocols=VLESS,
)
OVER = replace(WANTED, access=False, expired=True)
"""Access over by time: the desired expiry has passed."""
SUSPENDED = replace(WANTED, access=False)


def test_a_user_as_desired_has_no_drift() -> None:
    assert drift_of(WANTED, SEEN) == ()


def test_what_the_panel_does_by_itself_within_the_desired_state_is_no_drift() -> None:
    assert drift_of(WANTED, replace(SEEN, status="limited")) == ()
    assert drift_of(WANTED, replace(SEEN, status="expired")) == ()  # its clock ahead
    assert drift_of(OVER, replace(SEEN, status="expired")) == ()
    assert drift_of(OVER, replace(SEEN, status="disabled")) == ()
    assert drift_of(SUSPENDED, replace(SEEN, status="disabled")) == ()


def test_each_difference_is_its_kind() -> None:
    assert drift_of(WANTED, None) == (Drift.MISSING,)
    assert drift_of(WANTED, replace(SEEN, expires_at=1_700_000_000)) == (Drift.EXPIRY,)
    assert drift_of(WANTED, replace(SEEN, traffic_limit_bytes=0)) == (Drift.LIMIT,)
    assert drift_of(WANTED, replace(SEEN, traffic_reset="month")) == (Drift.LIMIT,)
    assert drift_of(WANTED, replace(SEEN, status="disabled")) == (Drift.STATUS,)
    assert drift_of(OVER, SEEN) == (Drift.ENABLED_AFTER_EXPIRY,)
    assert drift_of(SUSPENDED, SEEN) == (Drift.STATUS,)
    assert drift_of(SUSPENDED, replace(SEEN, status="on_hold")) == (Drift.STATUS,)
    both = frozenset({"vless", "trojan"})
    assert drift_of(WANTED, replace(SEEN, protocols=both)) == (Drift.PROTOCOLS,)
    expired_elsewhere = replace(SEEN, status="expired", expires_at=1_700_000_000)
    assert drift_of(WANTED, expired_elsewhere) == (Drift.EXPIRY,)  # the expiry repairs both


def test_a_user_nobody_pays_for_is_unpaid_until_disabled() -> None:
    assert drift_of(None, SEEN) == (Drift.UNPAID,)
    assert drift_of(None, replace(SEEN, status="limited")) == (Drift.UNPAID,)
    assert drift_of(None, replace(SEEN, status="disabled")) == ()
    assert drift_of(None, None) == ()


def test_no_user_is_wanted_once_access_is_over_or_removed() -> None:
    assert drift_of(OVER, None) == ()
    assert drift_of(SUSPENDED, None) == ()
    removed = replace(SUSPENDED, removed=True)
    assert drift_of(removed, None) == ()
    assert drift_of(removed, SEEN) == (Drift.STATUS,)  # the worker deletes it again


def test_protocols_are_not_compared_when_the_panel_configures_none() -> None:
    assert drift_of(replace(WANTED, protocols=frozenset()), SEEN) == ()


def test_protocols_and_unpaid_users_are_not_the_placement_workers() -> None:
    assert not placement_repairs((Drift.PROTOCOLS,))
    assert not placement_repairs((Drift.UNPAID,))
    assert placement_repairs((Drift.EXPIRY, Drift.PROTOCOLS))
    assert not placement_repairs(())


_statuses = st.sampled_from(["active", "limited", "expired", "disabled", "on_hold"])
_seen = st.builds(
    Seen,
    status=_statuses,
    expires_at=st.sampled_from([0, 1_700_000_000, 1_800_000_000]),
    traffic_limit_bytes=st.sampled_from([0, 100 * GIB]),
    traffic_reset=st.sampled_from(["none", "month"]),
    protocols=st.sampled_from([VLESS, frozenset({"vless", "trojan"})]),
)
_wanted = st.builds(
    Wanted,
    expires_at=st.sampled_from([1_700_000_000, 1_800_000_000]),
    traffic_limit_bytes=st.sampled_from([0, 100 * GIB]),
    traffic_reset=st.sampled_from(["none", "month"]),
    access=st.booleans(),
    expired=st.booleans(),
    protocols=st.just(VLESS),
    removed=st.booleans(),
)


@given(wanted=_wanted, seen=_seen)
def test_a_repaired_user_has_no_drift_left(wanted: Wanted, seen: Seen) -> None:
    """Whatever the panel had, the user as the worker leaves it (the desired expiry,
    limit and status, the panel's protocols) is found right."""
    if wanted.removed:
        assert drift_of(wanted, None) == ()
        return
    repaired = Seen(
        status="active" if wanted.access else "disabled",
        expires_at=wanted.expires_at,
        traffic_limit_bytes=wanted.traffic_limit_bytes,
        traffic_reset=wanted.traffic_reset,
        protocols=wanted.protocols,
    )
    assert drift_of(wanted, repaired) == ()
    # And a difference is always found as one kind at most once.
    found = drift_of(wanted, seen)
    assert len(found) == len(set(found))


@given(seen=_seen)
def test_a_user_of_no_placement_is_never_repaired_but_by_disabling(seen: Seen) -> None:
    assert drift_of(None, seen) in ((), (Drift.UNPAID,))
    assert (drift_of(None, seen) == ()) == (seen.status == "disabled")
