import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.billing import (
    CatalogPublished,
    PaymentMethodOffer,
    PlanOffer,
    PriceExperiment,
    PriceVariant,
    Quote,
    assign_variant,
)
from contracts.money import Money

NOW = datetime(2027, 3, 1, tzinfo=UTC)


def rub(amount: int) -> tuple[Money, ...]:
    return (Money(amount_minor=amount, currency="RUB"),)


def plan(plan_id: str, quote_id: uuid.UUID | None) -> PlanOffer:
    return PlanOffer(
        plan_id=plan_id,
        titles={"en": plan_id},
        duration_days=30,
        prices=rub(19900),
        traffic_limit_bytes=0,
        active=True,
        quote_id=quote_id,
    )


def experiment(name: str, plan_ids: tuple[str, ...]) -> PriceExperiment:
    return PriceExperiment(
        experiment_id=name,
        plan_ids=plan_ids,
        variants=tuple(
            PriceVariant(
                name=variant,
                weight=1,
                quotes=tuple(
                    Quote(plan_id=p, quote_id=uuid.uuid4(), prices=rub(amount)) for p in plan_ids
                ),
            )
            for variant, amount in (("control", 19900), ("low", 14900))
        ),
        started_at=NOW,
    )


def catalog(*experiments: PriceExperiment, quotes: bool = True) -> CatalogPublished:
    return CatalogPublished(
        catalog_version=1,
        plans=(
            plan("m1", uuid.uuid4() if quotes else None),
            plan("m3", uuid.uuid4() if quotes else None),
        ),
        payment_methods=(
            PaymentMethodOffer(provider="yookassa", currencies=("RUB",), recurring=False),
        ),
        experiments=experiments,
        published_at=NOW,
    )


def test_a_customer_is_quoted_their_variant_on_the_experiments_plans_only() -> None:
    published = catalog(experiment("spring", ("m1",)))
    m1, m3 = published.plans
    [spring] = published.experiments
    for n in range(20):
        customer = uuid.uuid5(uuid.NAMESPACE_OID, str(n))
        variant = spring.variants[assign_variant("spring", customer, [1, 1])]
        assert published.quote_for(customer, m1) == variant.quote("m1")
        quoted = published.quote_for(customer, m3)
        assert quoted is not None
        assert (quoted.quote_id, quoted.prices) == (m3.quote_id, m3.prices)


def test_a_catalog_from_before_quotes_quotes_nothing() -> None:
    published = catalog(quotes=False)
    assert published.quote_for(uuid.uuid4(), published.plans[0]) is None


def test_a_plan_is_in_one_experiment_at_most() -> None:
    with pytest.raises(ValidationError, match="at most one experiment"):
        catalog(experiment("spring", ("m1",)), experiment("summer", ("m1", "m3")))


def test_every_variant_quotes_every_plan_of_its_experiment() -> None:
    whole = experiment("spring", ("m1", "m3"))
    partial = whole.variants[1].model_copy(update={"quotes": whole.variants[1].quotes[:1]})
    with pytest.raises(ValidationError, match="exactly the plans"):
        PriceExperiment.model_validate(
            {
                **whole.model_dump(),
                "variants": [whole.variants[0].model_dump(), partial.model_dump()],
            }
        )
