import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.prices import (
    Experiment,
    ExperimentRefusal,
    IssuedQuote,
    QuoteRefusal,
    QuoteTerms,
    RegionalPriceRefusal,
    Variant,
    check_experiment,
    check_regional_price,
    judge,
    offered_to,
    region_prices,
    wanted_quotes,
)
from contracts.billing import assign_variant

START = datetime(2027, 3, 1, tzinfo=UTC)
LIST = {"m1": {"RUB": 19900, "XTR": 250}, "m3": {"RUB": 54900}}
CUSTOMERS = [uuid.uuid5(uuid.NAMESPACE_OID, str(n)) for n in range(20_000)]


def spring(*variants: Variant, plans: tuple[str, ...] = ("m1",)) -> Experiment:
    return Experiment("spring", plans, variants, START)


CONTROL = Variant("control", 1)
LOW = Variant("low", 1, {"m1": {"RUB": 14900}})


def test_a_customer_is_always_in_the_same_variant_of_an_experiment() -> None:
    for customer in CUSTOMERS[:100]:
        assert assign_variant("spring", customer, [1, 1]) == assign_variant(
            "spring", customer, [1, 1]
        )


def test_customers_are_split_in_proportion_to_the_weights() -> None:
    shares = Counter(assign_variant("spring", customer, [1, 3]) for customer in CUSTOMERS)
    assert 0.23 < shares[0] / len(CUSTOMERS) < 0.27


def test_assignments_to_two_experiments_are_independent() -> None:
    both = sum(
        1
        for customer in CUSTOMERS
        if assign_variant("spring", customer, [1, 1]) == 0
        and assign_variant("summer", customer, [1, 1]) == 0
    )
    assert 0.23 < both / len(CUSTOMERS) < 0.27


@given(st.uuids(), st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=8))
def test_every_customer_lands_in_one_of_the_variants(
    customer: uuid.UUID, weights: list[int]
) -> None:
    assert 0 <= assign_variant("x", customer, weights) < len(weights)


def test_the_quotes_wanted_are_the_list_prices_and_each_variants_prices() -> None:
    wanted = wanted_quotes(LIST, [spring(CONTROL, LOW)])
    assert wanted == {
        QuoteTerms.of("m1", LIST["m1"]),
        QuoteTerms.of("m3", LIST["m3"]),
        QuoteTerms.of("m1", LIST["m1"], "spring", "control"),
        # The override changes RUB only; the Stars price stays the list one.
        QuoteTerms.of("m1", {"RUB": 14900, "XTR": 250}, "spring", "low"),
    }


def _quotes() -> tuple[IssuedQuote, IssuedQuote, IssuedQuote]:
    listed = IssuedQuote(uuid.uuid4(), QuoteTerms.of("m1", LIST["m1"]))
    control = IssuedQuote(uuid.uuid4(), QuoteTerms.of("m1", LIST["m1"], "spring", "control"))
    low = IssuedQuote(uuid.uuid4(), QuoteTerms.of("m1", {"RUB": 14900}, "spring", "low"))
    return listed, control, low


def test_a_customer_in_an_experiment_is_offered_their_variants_quote() -> None:
    listed, control, low = _quotes()
    experiment = spring(CONTROL, LOW)
    for customer in CUSTOMERS[:50]:
        expected = control if experiment.variant_for(customer) is CONTROL else low
        assert offered_to(customer, [listed, control, low], experiment) == expected
    assert offered_to(CUSTOMERS[0], [listed, control, low], None) == listed


def test_only_the_quote_offered_is_charged() -> None:
    listed, control, low = _quotes()
    assert judge(low, low, "m1") is None
    # Another variant's price: never offered to this customer.
    assert judge(control, low, "m1") is QuoteRefusal.INVALID
    # The list price from before the experiment began, or a price since changed.
    assert judge(listed, low, "m1") is QuoteRefusal.STALE
    assert judge(low, listed, "m1") is QuoteRefusal.STALE
    # No such quote, or one for another plan.
    assert judge(None, listed, "m1") is QuoteRefusal.INVALID
    assert judge(listed, None, "m3") is QuoteRefusal.INVALID


@pytest.mark.parametrize(
    ("experiment", "busy", "reason"),
    [
        (spring(CONTROL), (), "at least two variants"),
        (spring(CONTROL, Variant("control", 1, {"m1": {"RUB": 1}})), (), "unique"),
        (spring(CONTROL, LOW, plans=("m1", "m1")), (), "each plan once"),
        (spring(CONTROL, LOW, plans=("m1", "y9")), (), "y9 has no prices"),
        (spring(CONTROL, LOW), ("m1",), "already in a running experiment: m1"),
        (spring(CONTROL, Variant("low", 0, {"m1": {"RUB": 1}})), (), "weight"),
        (spring(CONTROL, Variant("low", 1, {"m3": {"RUB": 1}})), (), "m3 is not in it"),
        (spring(CONTROL, Variant("low", 1, {"m1": {"USD": 100}})), (), "no USD price"),
        (spring(CONTROL, Variant("low", 1, {"m1": {"RUB": 0}})), (), "positive"),
        (spring(CONTROL, Variant("same", 2)), (), "nothing to compare"),
    ],
)
def test_an_experiment_that_cannot_run_is_refused(
    experiment: Experiment, busy: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(ExperimentRefusal, match=reason):
        check_experiment(experiment, LIST, busy)


def test_an_experiment_as_it_should_be_is_accepted() -> None:
    check_experiment(spring(CONTROL, LOW, plans=("m1", "m3")), LIST, ("y1",))


REGIONAL = {"m1": {"de": {"RUB": 24900}}}


def test_a_region_pays_its_own_price_and_the_base_price_in_other_currencies() -> None:
    assert region_prices(LIST["m1"], REGIONAL["m1"]["de"]) == {"RUB": 24900, "XTR": 250}
    wanted = wanted_quotes(LIST, [], REGIONAL)
    assert QuoteTerms.of("m1", {"RUB": 24900, "XTR": 250}, region="de") in wanted
    assert QuoteTerms.of("m1", LIST["m1"]) in wanted
    assert len(wanted) == 3  # m1 base, m1 in de, m3 base


def test_a_customer_is_offered_their_regions_quote_else_the_base_one() -> None:
    base = IssuedQuote(uuid.uuid4(), QuoteTerms.of("m1", LIST["m1"]))
    de = IssuedQuote(uuid.uuid4(), QuoteTerms.of("m1", {"RUB": 24900, "XTR": 250}, region="de"))
    customer = CUSTOMERS[0]
    assert offered_to(customer, [base, de], None, "de") == de
    assert offered_to(customer, [base, de], None, "nl") == base
    assert offered_to(customer, [base, de], None, None) == base
    # Another region's quote is invalid for the checkout; a withdrawn one of its own, stale.
    assert judge(de, base, "m1", "nl") is QuoteRefusal.INVALID
    assert judge(de, base, "m1", "de") is QuoteRefusal.STALE
    assert judge(de, de, "m1", "de") is None


@pytest.mark.parametrize(
    ("region", "own", "busy", "reason"),
    [
        ("xx", {"RUB": 100}, [], "there is no region 'xx' in provisioning's catalog"),
        ("de", {}, [], "give at least one price"),
        ("de", {"USD": 100}, [], "plan m1 is not sold in USD"),
        ("de", {"RUB": 0}, [], "prices must be positive"),
        ("de", {"RUB": 100}, ["m1"], "plan m1 is in a running price experiment"),
    ],
)
def test_a_regional_price_that_cannot_be_sold_is_refused(
    region: str, own: dict[str, int], busy: list[str], reason: str
) -> None:
    with pytest.raises(RegionalPriceRefusal, match=reason):
        check_regional_price("m1", region, own, LIST, ["nl", "de"], busy)


def test_a_plan_priced_per_region_takes_no_experiment() -> None:
    with pytest.raises(ExperimentRefusal, match="priced per region: m1"):
        check_experiment(spring(CONTROL, LOW), LIST, [], REGIONAL)
