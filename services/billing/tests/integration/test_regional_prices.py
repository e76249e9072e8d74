"""Regional prices on a real PostgreSQL, set by the operator's command: a plan priced in a
region provisioning publishes (an unknown region refused), quoted per region in the
catalog, charged at the region's price for a checkout in it (the base price elsewhere),
and back to the base price when cleared."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from billing import commands, plans
from billing.models import PlanRow
from billing.regions import mirror_regions
from chassis.db import transaction
from contracts.billing import CatalogPublished, PlanOffer
from contracts.money import Money
from contracts.provisioning import RegionOffer, RegionsPublished

from .conftest import Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

BASE, DE_PRICE = 19900, 34900


def regions(version: int, *codes: str) -> RegionsPublished:
    return RegionsPublished(
        catalog_version=version,
        regions=tuple(
            RegionOffer(region=code, names={"en": code.upper()}, flag="🏳", available=True)
            for code in codes
        ),
        default_region=codes[0],
        published_at=datetime.now(UTC),
    )


async def new_plan(billing: Billing) -> str:
    plan_id = f"r-{uuid.uuid4().hex[:8]}"
    definition = plans.PlanDefinition(
        plan_id=plan_id,
        titles={"en": "1 month"},
        duration_days=30,
        duration_months=0,
        prices=(Money(amount_minor=BASE, currency="RUB"), Money(amount_minor=150, currency="XTR")),
        traffic_limit_bytes=0,
        traffic_carry_over=True,
        traffic_reset="none",
        tier=0,
        active=True,
        position=None,
    )
    async with transaction(billing.sessions) as session:
        await plans.define(session, definition)
    return plan_id


async def command(
    billing: Billing,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
) -> tuple[int, str]:
    """``python -m billing plan ...`` against the test's database: its exit code and stderr."""
    engine = billing.sessions.kw["bind"]
    monkeypatch.setenv("BILLING_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    code = await asyncio.to_thread(commands.plan, list(argv))
    return code, capsys.readouterr().err


def offer(catalog: CatalogPublished, plan_id: str) -> PlanOffer:
    return next(plan for plan in catalog.plans if plan.plan_id == plan_id)


async def test_a_regional_price_is_set_quoted_charged_and_cleared(
    billing: Billing, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_id = await new_plan(billing)
    published = regions(1_000, "nl", "de")
    await billing.consume(published, mirror_regions)

    refused, error = await command(
        billing, monkeypatch, capsys, "region-price", plan_id, "--region", "xx", "--price", "1:RUB"
    )
    assert refused == 1
    assert "there is no region 'xx' in provisioning's catalog (known: de, nl)" in error
    refused, error = await command(
        billing, monkeypatch, capsys, "region-price", plan_id, "--region", "de", "--price", "5:USD"
    )
    assert refused == 1
    assert f"plan {plan_id} is not sold in USD" in error

    done, _ = await command(
        billing,
        monkeypatch,
        capsys,
        "region-price",
        plan_id,
        "--region",
        "de",
        "--price",
        "349:RUB",
    )
    assert done == 0
    catalog = await billing.publish_catalog()
    sold = offer(catalog, plan_id)
    [regional] = sold.regional_prices
    assert regional.region == "de"
    # The region's own RUB price; the base price in the currency it has none of.
    assert {(p.currency, p.amount_minor) for p in regional.prices} == {
        ("RUB", DE_PRICE),
        ("XTR", 150),
    }

    customer = uuid.uuid4()
    in_de = catalog.quote_for(customer, sold, "de")
    in_nl = catalog.quote_for(customer, sold, "nl")
    assert in_de is not None
    assert in_nl is not None
    assert in_de.quote_id == regional.quote_id
    order = await billing.buy(customer=customer, plan=plan_id, quote=in_de.quote_id, region="de")
    assert (order.amount_minor, order.region, order.quote_id) == (DE_PRICE, "de", in_de.quote_id)
    elsewhere = await billing.buy(plan=plan_id, quote=in_nl.quote_id, region="nl")
    assert elsewhere.amount_minor == BASE
    unquoted = await billing.buy(plan=plan_id, region="de")
    assert unquoted.amount_minor == DE_PRICE
    # Another region's price was never this checkout's.
    assert (
        await billing.checkout_outcome(
            uuid.uuid4(), plan=plan_id, quote=in_de.quote_id, region="nl"
        )
        == "quote_invalid"
    )

    cleared, _ = await command(
        billing, monkeypatch, capsys, "region-price", plan_id, "--region", "de", "--clear"
    )
    assert cleared == 0
    after = await billing.publish_catalog()
    assert offer(after, plan_id).regional_prices == ()
    assert (
        await billing.checkout_outcome(
            uuid.uuid4(), plan=plan_id, quote=in_de.quote_id, region="de"
        )
        == "quote_stale"
    )
    assert (await billing.buy(plan=plan_id, region="de")).amount_minor == BASE


async def test_the_plan_command_refuses_a_device_limit_and_writes_nothing(
    billing: Billing, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_id = f"d-{uuid.uuid4().hex[:8]}"
    argv = ("set", plan_id, "--title", "en=3 devices", "--days", "30", "--price", "349:RUB")
    refused, error = await command(billing, monkeypatch, capsys, *argv, "--devices", "3")
    assert refused == 1
    assert "a device limit cannot be enforced: Marzban panels have no per-user device" in error
    async with billing.sessions() as session:
        assert await session.get(PlanRow, plan_id) is None
    done, _ = await command(billing, monkeypatch, capsys, *argv)
    assert done == 0
