"""Quotes and price experiments on a real PostgreSQL: every price shown is a quote billing
issued with the catalog, a checkout is charged exactly the quote it names or refused, and
an experiment's customers each pay their variant's price, reported per variant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from billing import experiments
from billing.catalog import PaymentMethods, publish_if_changed
from billing.customers import record_customer
from billing.domain.prices import Experiment, ExperimentRefusal, Variant
from billing.models import Order, PlanPrice
from chassis.db import transaction
from contracts.billing import CatalogPublished
from contracts.bot import CustomerRegistered

from .conftest import M1_PRICE, Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

LOW_PRICE = 14900
CUSTOMERS = [uuid.uuid5(uuid.NAMESPACE_URL, f"customer/{n}") for n in range(24)]


async def checkout(
    billing: Billing, customer: uuid.UUID, quote: uuid.UUID | None, plan: str = "m1"
) -> str:
    return await billing.checkout_outcome(customer, plan=plan, quote=quote)


def plan_quote(catalog: CatalogPublished, plan_id: str, customer: uuid.UUID) -> uuid.UUID:
    plan = next(plan for plan in catalog.plans if plan.plan_id == plan_id)
    quote = catalog.quote_for(customer, plan)
    assert quote is not None
    return quote.quote_id


async def change_price(billing: Billing, plan_id: str, amount_minor: int) -> None:
    async with transaction(billing.sessions) as session:
        await session.execute(
            update(PlanPrice)
            .where(PlanPrice.plan_id == plan_id, PlanPrice.currency == "RUB")
            .values(amount_minor=amount_minor)
        )


async def start(billing: Billing, *variants: Variant, plans: tuple[str, ...] = ("m1",)) -> None:
    experiment = Experiment("spring", plans, variants, datetime.now(UTC))
    async with transaction(billing.sessions) as session:
        await experiments.start(session, experiment, note="a test")


async def test_a_checkout_is_charged_the_quote_it_names(billing: Billing) -> None:
    catalog = await billing.publish_catalog()
    customer = uuid.uuid4()
    quote = plan_quote(catalog, "m1", customer)
    order = await billing.buy(customer=customer, quote=quote)
    assert (order.amount_minor, order.quote_id) == (M1_PRICE, quote)
    assert (order.experiment_id, order.variant) == (None, None)
    # Published again with nothing changed: the same quotes, no new catalog.
    assert (await billing.publish_catalog()).catalog_version == catalog.catalog_version


async def test_a_changed_price_makes_the_quote_shown_before_stale(billing: Billing) -> None:
    before = await billing.publish_catalog()
    customer = uuid.uuid4()
    shown = plan_quote(before, "m1", customer)
    await change_price(billing, "m1", 17900)
    after = await billing.publish_catalog()
    assert after.catalog_version == before.catalog_version + 1
    assert plan_quote(after, "m1", customer) != shown
    # The other plans kept their quotes: only what changed is issued anew.
    assert plan_quote(after, "m3", customer) == plan_quote(before, "m3", customer)

    assert await checkout(billing, customer, shown) == "quote_stale"
    order = await billing.buy(customer=customer, quote=plan_quote(after, "m1", customer))
    assert order.amount_minor == 17900


async def test_a_forged_or_misplaced_quote_is_refused(billing: Billing) -> None:
    catalog = await billing.publish_catalog()
    customer = uuid.uuid4()
    assert await checkout(billing, customer, uuid.uuid4()) == "quote_invalid"
    assert await checkout(billing, customer, plan_quote(catalog, "m3", customer)) == (
        "quote_invalid"
    )
    async with billing.sessions() as session:
        assert (
            await session.scalar(
                Order.__table__.select().where(Order.customer_id == customer).exists().select()
            )
            is False
        )


async def test_without_a_quote_the_price_offered_now_is_charged(billing: Billing) -> None:
    await billing.publish_catalog()
    await start(billing, Variant("control", 1), Variant("low", 1, {"m1": {"RUB": LOW_PRICE}}))
    catalog = await billing.publish_catalog()
    [experiment] = catalog.experiments
    for customer in CUSTOMERS[:6]:
        order = await billing.buy(customer=customer)
        variant = experiment.variant_for(customer).name
        assert order.variant == variant
        assert order.amount_minor == (LOW_PRICE if variant == "low" else M1_PRICE)


async def test_an_experiments_customers_pay_their_variants_price(billing: Billing) -> None:
    for customer in CUSTOMERS:
        registered = CustomerRegistered(
            customer_id=customer,
            telegram_user_id=CUSTOMERS.index(customer) + 1,
            chat_id=CUSTOMERS.index(customer) + 1,
            language="ru",
            registered_at=datetime.now(UTC),
        )
        await billing.consume(registered, record_customer)
    before = await billing.publish_catalog()
    await start(billing, Variant("control", 1), Variant("low", 1, {"m1": {"RUB": LOW_PRICE}}))
    catalog = await billing.publish_catalog()
    [experiment] = catalog.experiments
    assert experiment.experiment_id == "spring"
    assert [variant.name for variant in experiment.variants] == ["control", "low"]
    in_variant = {
        name: [c for c in CUSTOMERS if experiment.variant_for(c).name == name]
        for name in ("control", "low")
    }
    assert in_variant["control"]
    assert in_variant["low"]

    payers = in_variant["control"][:3] + in_variant["low"][:2]
    for customer in payers:
        quote = plan_quote(catalog, "m1", customer)
        order = await billing.buy(customer=customer, quote=quote)
        variant = experiment.variant_for(customer).name
        assert (order.experiment_id, order.variant) == ("spring", variant)
        assert order.amount_minor == (LOW_PRICE if variant == "low" else M1_PRICE)
    low, control = in_variant["low"][-1], in_variant["control"][-1]
    # Another variant's price is not this customer's; the list price from before is stale.
    assert await checkout(billing, low, plan_quote(catalog, "m1", control)) == "quote_invalid"
    assert await checkout(billing, low, plan_quote(before, "m1", low)) == "quote_stale"
    # One more started and never paid: a checkout that did not convert.
    assert await checkout(billing, low, plan_quote(catalog, "m1", low)) == "pending"
    # A name is an experiment's for good: its orders keep naming it.
    async with billing.sessions() as session:
        again = Experiment("spring", ("m3",), (Variant("a", 1),), datetime.now(UTC))
        with pytest.raises(ExperimentRefusal, match="exists already"):
            await experiments.start(session, again, note=None)

    async with transaction(billing.sessions) as session:
        await experiments.stop(session, "spring", datetime.now(UTC))
    ended = await billing.publish_catalog()
    assert ended.experiments == ()
    assert await checkout(billing, low, plan_quote(catalog, "m1", low)) == "quote_stale"
    assert plan_quote(ended, "m1", low) == plan_quote(before, "m1", low)  # the list price again

    async with billing.sessions() as session:
        _, results = await experiments.report(session, "spring")
    by_name = {result.name: result for result in results}
    assert by_name["control"].customers == len(in_variant["control"])
    assert by_name["low"].customers == len(in_variant["low"])
    assert (by_name["control"].checkouts, by_name["control"].paid_orders) == (3, 3)
    assert (by_name["low"].checkouts, by_name["low"].paid_orders) == (3, 2)
    assert by_name["low"].paying_customers == 2
    assert by_name["control"].revenue == {"RUB": 3 * M1_PRICE}
    assert by_name["low"].revenue == {"RUB": 2 * LOW_PRICE}
    assert by_name["low"].conversion == pytest.approx(2 / len(in_variant["low"]))


async def test_a_refund_takes_its_revenue_out_of_the_report(billing: Billing) -> None:
    await billing.publish_catalog()
    await start(billing, Variant("control", 1), Variant("low", 1, {"m1": {"RUB": LOW_PRICE}}))
    catalog = await billing.publish_catalog()
    customer = CUSTOMERS[0]
    order = await billing.buy(customer=customer, quote=plan_quote(catalog, "m1", customer))
    await billing.refund(order)
    assert await billing.worker().step() == 1  # the provider paid it back
    async with billing.sessions() as session:
        _, results = await experiments.report(session, "spring")
    variant = catalog.experiments[0].variant_for(customer).name
    assert next(r for r in results if r.name == variant).revenue == {"RUB": 0}


async def test_publishing_in_one_transaction_with_the_change(billing: Billing) -> None:
    """The CLI's way: the experiment and the catalog that offers it commit together."""
    methods = PaymentMethods.of(billing.providers(), wallet_currency="RUB", receipts=False)
    async with transaction(billing.sessions) as session:
        await experiments.start(
            session,
            Experiment(
                "spring",
                ("m1", "m3"),
                (Variant("control", 1), Variant("low", 3, {"m3": {"RUB": 44900}})),
                datetime.now(UTC),
            ),
            note=None,
        )
        await publish_if_changed(session, billing.outbox, methods)
    catalog = CatalogPublished.model_validate(
        (await billing.events("catalog.v2", CatalogPublished.event_type))[-1]
    )
    [experiment] = catalog.experiments
    low = next(variant for variant in experiment.variants if variant.name == "low")
    assert low.weight == 3
    quote = low.quote("m3")
    assert quote is not None
    rub = next(price for price in quote.prices if price.currency == "RUB")
    assert rub.amount_minor == 44900
