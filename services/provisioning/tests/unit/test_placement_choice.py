"""Which panel takes a new user: pure rules, with properties over any set of panels."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from provisioning.domain.placement import (
    Candidate,
    Choice,
    Health,
    alternatives,
    available,
    choose,
    choose_in_region,
    offered_protocols,
)


def panel(
    panel_id: str,
    region: str = "nl",
    *,
    weight: int = 1,
    capacity: int = 0,
    placed: int = 0,
    health: Health = Health.HEALTHY,
    enabled: bool = True,
    protocols: frozenset[str] = frozenset({"vless"}),
) -> Candidate:
    return Candidate(panel_id, region, weight, capacity, placed, health, enabled, protocols)


def spread(candidates: list[Candidate], users: int) -> Counter[str]:
    """Place ``users`` one after another, counting each as placed (as the directory does)."""
    by_id = {candidate.panel_id: candidate for candidate in candidates}
    placed: Counter[str] = Counter()
    for _ in range(users):
        current = [
            Candidate(
                c.panel_id,
                c.region,
                c.weight,
                c.capacity,
                c.placed + placed[c.panel_id],
                c.health,
                c.enabled,
                c.protocols,
            )
            for c in by_id.values()
        ]
        chosen = choose_in_region(current)
        assert chosen is not None
        placed[chosen] += 1
    return placed


def test_new_users_spread_by_weight() -> None:
    assert spread([panel("nl-1", weight=2), panel("nl-2", weight=1)], 300) == {
        "nl-1": 200,
        "nl-2": 100,
    }


def test_the_least_loaded_panel_takes_the_next_user() -> None:
    assert choose_in_region([panel("nl-1", placed=10), panel("nl-2", placed=3)]) == "nl-2"


def test_a_full_disabled_down_or_weightless_panel_takes_nobody() -> None:
    for unable in (
        panel("nl-1", capacity=5, placed=5),
        panel("nl-1", enabled=False),
        panel("nl-1", health=Health.DOWN),
        panel("nl-1", health=Health.MISCONFIGURED),
        panel("nl-1", health=Health.INCOMPATIBLE),
        panel("nl-1", weight=0),
    ):
        assert choose_in_region([unable]) is None
    assert choose_in_region([panel("nl-1", capacity=5, placed=4)]) == "nl-1"


def test_a_degraded_panel_only_when_no_healthy_one_can() -> None:
    degraded = panel("nl-1", health=Health.DEGRADED)
    assert choose_in_region([degraded, panel("nl-2", placed=1000)]) == "nl-2"
    assert choose_in_region([degraded, panel("nl-2", health=Health.DOWN)]) == "nl-1"


def test_a_panel_not_probed_yet_takes_users() -> None:
    assert choose_in_region([panel("nl-1", health=Health.UNKNOWN)]) == "nl-1"


def test_a_protocol_goes_only_where_an_inbound_offers_it() -> None:
    trojan = panel("nl-2", placed=50, protocols=frozenset({"vless", "trojan"}))
    assert choose_in_region([panel("nl-1"), trojan], "trojan") == "nl-2"
    assert choose_in_region([panel("nl-1")], "trojan") is None


def test_a_protocol_no_panel_of_the_region_offers_keeps_the_customer_in_their_region() -> None:
    trojan_de = panel("de-1", "de", protocols=frozenset({"trojan"}))
    vless_nl = panel("nl-1")
    in_nl = choose([vless_nl, trojan_de], "nl", {"nl": ("de",)}, "trojan")
    assert in_nl == Choice("nl-1", "nl", fallback=False, protocol_offered=False)
    # Offered in the region: the panel that has it, even more loaded.
    trojan_nl = panel("nl-2", placed=40, protocols=frozenset({"vless", "trojan"}))
    assert choose([vless_nl, trojan_nl], "nl", {}, "trojan") == Choice("nl-2", "nl", False)
    # The region full: its fallback, preferring the protocol there too.
    full = panel("nl-1", capacity=1, placed=1)
    assert choose([full, trojan_de], "nl", {"nl": ("de",)}, "trojan") == Choice("de-1", "de", True)


FALLBACKS = {"nl": ("de", "fi"), "de": ("nl",)}


def test_a_region_that_cannot_take_the_user_sends_them_to_the_nearest_fallback() -> None:
    panels = [
        panel("nl-1", health=Health.DOWN),
        panel("de-1", "de", capacity=1, placed=1),
        panel("fi-1", "fi"),
    ]
    choice = choose(panels, "nl", FALLBACKS)
    assert choice is not None
    assert (choice.panel_id, choice.region, choice.fallback) == ("fi-1", "fi", True)
    assert alternatives(panels, "nl", FALLBACKS) == ("fi",)
    assert not available(panels, "nl")
    home = choose([*panels, panel("nl-2")], "nl", FALLBACKS)
    assert home is not None
    assert (home.panel_id, home.fallback) == ("nl-2", False)


def test_nowhere_to_go_is_none_not_an_error() -> None:
    assert choose([panel("nl-1", enabled=False)], "nl", FALLBACKS) is None
    assert choose([], "nl", FALLBACKS) is None
    assert choose([panel("nl-1")], "xx", FALLBACKS) is None


candidates = st.lists(
    st.builds(
        Candidate,
        panel_id=st.sampled_from([f"p{i}" for i in range(8)]),
        region=st.sampled_from(["nl", "de", "fi"]),
        weight=st.integers(0, 5),
        capacity=st.integers(0, 20),
        placed=st.integers(0, 30),
        health=st.sampled_from(list(Health)),
        enabled=st.booleans(),
        protocols=st.just(frozenset({"vless"})),
    ),
    max_size=8,
    unique_by=lambda candidate: candidate.panel_id,
)


@given(candidates, st.sampled_from(["nl", "de", "fi"]))
def test_the_choice_is_always_a_panel_that_can_take_the_user(
    panels: list[Candidate], region: str
) -> None:
    choice = choose(panels, region, FALLBACKS)
    able = [c for c in panels if c.takes(None)]
    if choice is None:
        assert not [c for c in able if c.region in (region, *FALLBACKS.get(region, ()))]
        return
    chosen = next(c for c in panels if c.panel_id == choice.panel_id)
    assert chosen.takes(None)
    assert chosen.region == choice.region
    # The home region first; a fallback only when home has nothing.
    assert choice.fallback == (choice.region != region)
    if choice.fallback:
        assert not [c for c in able if c.region == region]
    # No panel of the same region and rank is less loaded.
    rank = {Health.HEALTHY: 0, Health.UNKNOWN: 0, Health.DEGRADED: 1}
    peers = [c for c in able if c.region == chosen.region and rank[c.health] == rank[chosen.health]]
    assert chosen.load <= min(c.load for c in peers)
    assert not [
        c for c in able if c.region == chosen.region and rank[c.health] < rank[chosen.health]
    ]


def test_a_region_offers_the_protocols_of_the_panels_that_can_take_a_customer() -> None:
    panels = [
        panel("nl-1", protocols=frozenset({"vless", "vmess"})),
        panel("nl-2", protocols=frozenset({"trojan"})),
        panel("nl-3", health=Health.DOWN, protocols=frozenset({"shadowsocks"})),
    ]
    assert offered_protocols(panels, "nl") == ("trojan", "vless", "vmess")
    assert offered_protocols(panels, "de") == ()
