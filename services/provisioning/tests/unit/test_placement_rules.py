import re
from datetime import timedelta
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from chassis.worker import RetryPolicy
from provisioning.marzban import DesiredUser, PanelUser
from provisioning.placements import absolute_subscription_url, panel_username


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
        expire=expire,
        data_limit=data_limit,
        subscription_url="/sub/t",
        links=(),
    )


def test_zero_means_unlimited_which_the_panel_reports_as_null() -> None:
    desired = DesiredUser(username="vpn_x", expire=100, data_limit=0, note="")
    assert desired.matches(user())
    assert not desired.matches(user(data_limit=5))
    assert not desired.matches(user(status="disabled"))
    assert not desired.matches(user(expire=99))
