"""Quoted prices in the bot: each customer sees the price billing quotes them (their
variant of a price experiment), the checkout names that quote, a button whose price has
changed shows the new price before anything is charged, and billing's refusal of a stale
quote is answered with the price on offer now."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.catalog import mirror_catalog
from bot.checkouts import CheckoutAnswers
from bot.models import Checkout
from chassis.worker import Wakeup
from contracts.billing import (
    CatalogPublished,
    CheckoutFailed,
    PaymentMethodOffer,
    PlanOffer,
    PriceExperiment,
    PriceVariant,
    Quote,
)
from contracts.money import Money

from .conftest import METHODS, PLAN, BotWorld
from .test_checkout_screens import run_until_shown, screens
from .test_promo_codes import commands, started
from .test_settings import press

pytestmark = pytest.mark.integration

LIST_QUOTE = uuid.uuid4()
CONTROL_QUOTE, LOW_QUOTE = uuid.uuid4(), uuid.uuid4()


def rub_and_stars(rub: int, stars: int) -> tuple[Money, ...]:
    return (Money(amount_minor=rub, currency="RUB"), Money(amount_minor=stars, currency="XTR"))


def catalog(version: int, *, experiment: bool, m1_rub: int = 19900) -> CatalogPublished:
    plan = PlanOffer.model_validate(
        {**PLAN, "prices": rub_and_stars(m1_rub, 150), "quote_id": LIST_QUOTE}
    )
    experiments = ()
    if experiment:
        experiments = (
            PriceExperiment(
                experiment_id="spring",
                plan_ids=("m1",),
                variants=(
                    PriceVariant(
                        name="control",
                        weight=1,
                        quotes=(
                            Quote(
                                plan_id="m1",
                                quote_id=CONTROL_QUOTE,
                                prices=rub_and_stars(19900, 150),
                            ),
                        ),
                    ),
                    PriceVariant(
                        name="low",
                        weight=1,
                        quotes=(
                            Quote(
                                plan_id="m1", quote_id=LOW_QUOTE, prices=rub_and_stars(14900, 150)
                            ),
                        ),
                    ),
                ),
                started_at=datetime.now(UTC),
            ),
        )
    return CatalogPublished(
        catalog_version=version,
        plans=(plan,),
        payment_methods=tuple(PaymentMethodOffer.model_validate(m) for m in METHODS),
        wallet_currency="RUB",
        experiments=experiments,
        published_at=datetime.now(UTC),
    )


async def publish(world: BotWorld, event: CatalogPublished) -> None:
    await world.handle(lambda ctx: mirror_catalog(event, ctx), event)


async def test_each_customer_sees_and_pays_their_variants_price(world: BotWorld) -> None:
    # Versions differ between tests: the bot parses each catalog version once per process.
    published = catalog(12, experiment=True)
    await publish(world, published)
    seen: dict[str, uuid.UUID] = {}
    while len(seen) < 2:  # a customer in each variant
        user, customer_id = await started(world, "en")
        variant = published.experiments[0].variant_for(customer_id).name
        if variant in seen:
            continue
        seen[variant] = customer_id
        price = "149" if variant == "low" else "199"
        listing = await press(world, user, "m:buy")
        assert price in str(listing.reply_markup)
        details = await press(world, user, "plan:m1")
        assert f"Price: {price}" in (details.text or "")
        await press(world, user, f"pq:m1:yookassa:RUB:{price}00")
        [request] = await commands(world, "bot.checkout.requested.v1", customer_id)
        assert request["quote_id"] == str(LOW_QUOTE if variant == "low" else CONTROL_QUOTE)


async def test_a_button_whose_price_changed_shows_the_new_price_first(world: BotWorld) -> None:
    await publish(world, catalog(22, experiment=False))
    user, customer_id = await started(world, "ru")
    await press(world, user, "m:buy")
    await press(world, user, "plan:m1")
    await publish(world, catalog(23, experiment=False, m1_rub=24900))
    again = await press(world, user, "pq:m1:yookassa:RUB:19900")
    assert "Цена изменилась" in (again.text or "")
    assert "249" in (again.text or "")
    assert await commands(world, "bot.checkout.requested.v1", customer_id) == []
    # At the price shown now, the checkout goes ahead with the quote of that price.
    await press(world, user, "pq:m1:yookassa:RUB:24900")
    [request] = await commands(world, "bot.checkout.requested.v1", customer_id)
    assert request["quote_id"] == str(LIST_QUOTE)


async def test_a_quote_billing_refuses_is_answered_with_the_price_now(world: BotWorld) -> None:
    await publish(world, catalog(32, experiment=False))
    user, customer_id = await started(world, "en")
    await press(world, user, "m:buy")
    await press(world, user, "plan:m1")
    await press(world, user, "pq:m1:yookassa:RUB:19900")
    [request] = await commands(world, "bot.checkout.requested.v1", customer_id)
    # Billing's price moved on before the checkout reached it.
    await publish(world, catalog(33, experiment=False, m1_rub=21900))
    failed = CheckoutFailed(
        checkout_id=uuid.UUID(request["checkout_id"]),
        customer_id=customer_id,
        reason_code="quote_stale",
        reason=f"quote {LIST_QUOTE} for m1: quote_stale",
    )
    await world.handle(lambda ctx: CheckoutAnswers(Wakeup()).failed(failed, ctx), failed)
    assert await run_until_shown(screens(world), world, failed.checkout_id) == "failed"
    async with world.sessions() as session:
        row = await session.scalar(
            select(Checkout).where(Checkout.checkout_id == failed.checkout_id)
        )
    assert row is not None
    shown = next(
        m
        for m in (await world.telegram.transcript(user.id)).bot_messages()
        if m.message_id == row.message_id
    )
    assert "has changed since it was shown to you, so nothing was charged" in (shown.text or "")
    assert "pq:m1:yookassa:RUB:21900" in str(shown.reply_markup)
