import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from chassis.worker import RetryPolicy
from provisioning.panels.client import DesiredUser, PanelUser
from provisioning.placements import (
    Claimed,
    Desired,
    absolute_subscription_url,
    next_desired,
    panel_username,
)


@given(st.uuids())
def test_usernames_are_valid_on_marzban_and_the_same_for_a_subscription(subscription: UUID) -> None:
    name = panel_username(subscription)
    assert re.fullmatch(r"[a-z0-9_]{3,32}", name)
    assert panel_username(subscription) == name


def test_different_subscriptions_get_different_users() -> None:
    assert panel_username(uuid4()) != panel_username(uuid4())


def test_relative_subscription_links_become_absolute() -> None:
    assert (
        absolute_subscription_url("/sub/abc", "https://panel.example:8443/")
        == "https://panel.example:8443/sub/abc"
    )
    assert (
        absolute_subscription_url("https://cdn.example/sub/x", "https://p")
        == "https://cdn.example/sub/x"
    )


def test_retries_back_off_exponentially_to_a_cap() -> None:
    policy = RetryPolicy(first_delay_s=1, max_delay_s=60)
    assert [policy.delay(n) for n in (1, 2, 3)] == [timedelta(seconds=s) for s in (1, 2, 4)]
    assert policy.delay(30) == timedelta(seconds=60)


def user(
    *, status: str = "active", expire: int | None = 100, data_limit: int | None = None
) -> PanelUser:
    return PanelUser(
        username="vpn_x",
        status=status,
        expires_at=expire,
        traffic_limit_bytes=data_limit,
        subscription_url="/sub/t",
        links=(),
    )


def test_zero_means_unlimited_which_the_panel_reports_as_null() -> None:
    desired = DesiredUser(username="vpn_x", expires_at=100, traffic_limit_bytes=0, note="")
    assert desired.matches(user())
    assert not desired.matches(user(data_limit=5))
    assert not desired.matches(user(status="disabled"))
    assert not desired.matches(user(expire=99))


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def desired(days: int, revision: int | None, *, shortened: bool = False) -> Desired:
    return Desired(
        expire=NOW + timedelta(days=days),
        traffic_limit_bytes=100,
        revision=revision,
        shortened=shortened,
        period_end=NOW + timedelta(days=days),  # as an event without a grace says
    )


def test_a_newer_shortening_wins_over_a_longer_period() -> None:
    assert next_desired(desired(60, 2), desired(30, 3, shortened=True)) == desired(
        30, 3, shortened=True
    )


def test_a_redelivered_older_period_does_not_undo_a_shortening() -> None:
    shortened_state = desired(30, 3, shortened=True)
    assert next_desired(shortened_state, desired(60, 2)) is None
    assert next_desired(shortened_state, desired(30, 3, shortened=True)) is None
    # A purchase after the refund is newer again.
    assert next_desired(shortened_state, desired(90, 4)) == desired(90, 4)


def test_events_from_before_revisions_only_extend() -> None:
    assert next_desired(desired(30, None), desired(60, None)) == desired(60, None)
    assert next_desired(desired(60, None), desired(30, None)) is None
    assert next_desired(desired(60, 2), desired(90, None)) is None  # older than any revision
    assert next_desired(desired(60, None), desired(30, 1, shortened=True)) == desired(
        30, 1, shortened=True
    )


def test_the_first_event_is_taken_as_it_is() -> None:
    assert next_desired(None, desired(30, 1)) == desired(30, 1)


def test_a_user_whose_access_is_over_is_disabled_not_left_expiring() -> None:
    claimed = Claimed(
        subscription_id=uuid4(),
        customer_id=uuid4(),
        region="eu",
        panel_id="eu-1",
        panel_username="vpn_x",
        desired_expire=NOW,
        desired_traffic_limit_bytes=0,
        desired_version=2,
        shortened=True,
        on_panel=True,
        attempts=1,
        failure_reported=False,
        trace_context=None,
    )
    assert claimed.desired_user(NOW).status == "disabled"
    assert claimed.desired_user(NOW - timedelta(seconds=1)).status == "active"
    disabled = DesiredUser(
        username="vpn_x", expires_at=100, traffic_limit_bytes=0, note="", status="disabled"
    )
    assert disabled.matches(user(status="disabled"))
    assert not disabled.matches(user())
