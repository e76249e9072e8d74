"""The customer's region in the bot: provisioning's regions catalog mirrored (an older
version never wins), a region step after the plan when more than one region can take
the customer (the default first and marked, a full region shown as such and answered
with its alternatives), skipped when only one can; a protocol step when the region
offers more than one; and the checkout asking for both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import delete, update

from bot.catalog import mirror_catalog
from bot.events import record_access
from bot.models import CatalogMirror, Customer, RegionsMirror
from bot.regions import current_regions, mirror_regions
from contracts.billing import CatalogPublished, PaymentMethodOffer, PlanOffer, RegionalPrice
from contracts.money import Money
from contracts.provisioning import AccessGranted, RegionOffer, RegionsPublished
from sandbox.telegram import TranscriptMessage

from .conftest import METHODS, PLAN, BotWorld
from .test_promo_codes import commands, started
from .test_settings import press

pytestmark = pytest.mark.integration

NL = RegionOffer(
    region="nl", names={"ru": "Нидерланды", "en": "Netherlands"}, flag="🇳🇱", available=True
)
DE = RegionOffer(
    region="de",
    names={"ru": "Германия", "en": "Germany"},
    flag="🇩🇪",
    available=True,
    protocols=("trojan", "vless"),
)
FI_FULL = RegionOffer(
    region="fi",
    names={"ru": "Финляндия", "en": "Finland"},
    flag="🇫🇮",
    available=False,
    alternatives=("de",),
)


def regions(version: int, *offers: RegionOffer, default: str = "de") -> RegionsPublished:
    return RegionsPublished(
        catalog_version=version,
        regions=offers,
        default_region=default,
        published_at=datetime.now(UTC),
    )


async def publish(world: BotWorld, event: RegionsPublished) -> None:
    await world.handle(lambda ctx: mirror_regions(event, ctx), event)


@pytest_asyncio.fixture(loop_scope="session")
async def mirrored(world: BotWorld) -> AsyncIterator[BotWorld]:
    """The regions mirror, emptied afterwards, and the plans as they were: the other tests
    buy without a region step."""
    yield world
    async with world.sessions() as session, session.begin():
        await session.execute(delete(RegionsMirror))
        await session.execute(update(CatalogMirror).values(catalog_version=1, plans=[PLAN]))


DE_QUOTE = uuid.uuid4()


def priced_in_germany(version: int) -> CatalogPublished:
    plan = PlanOffer.model_validate(
        {
            **PLAN,
            "regional_prices": [
                RegionalPrice(
                    region="de",
                    prices=(
                        Money(amount_minor=24900, currency="RUB"),
                        Money(amount_minor=150, currency="XTR"),
                    ),
                    quote_id=DE_QUOTE,
                )
            ],
        }
    )
    return CatalogPublished(
        catalog_version=version,
        plans=(plan,),
        payment_methods=tuple(PaymentMethodOffer.model_validate(m) for m in METHODS),
        wallet_currency="RUB",
        published_at=datetime.now(UTC),
    )


async def test_the_mirror_keeps_the_newest_version(mirrored: BotWorld) -> None:
    await publish(mirrored, regions(5, NL, DE))
    await publish(mirrored, regions(4, NL))  # replayed from the start of the topic
    async with mirrored.sessions() as session:
        known = await current_regions(session)
    assert [offer.region for offer in known.offers] == ["nl", "de"]
    # The default is offered first.
    assert [offer.region for offer in known.in_order] == ["de", "nl"]


async def test_the_customer_picks_a_region_and_the_checkout_asks_for_it(
    mirrored: BotWorld,
) -> None:
    await publish(mirrored, regions(10, NL, DE, FI_FULL))
    catalog = priced_in_germany(100)
    await mirrored.handle(lambda ctx: mirror_catalog(catalog, ctx), catalog)
    user, customer_id = await started(mirrored, "en")
    await press(mirrored, user, "m:buy")
    step = await press(mirrored, user, "plan:m1")
    assert "Choose a region" in (step.text or "")
    buttons = [row[0] for row in (step.reply_markup or {})["inline_keyboard"]]
    assert [b["text"] for b in buttons[:3]] == [
        "🇩🇪 Germany · recommended",
        "🇳🇱 Netherlands",
        "🇫🇮 Finland · full now",
    ]
    assert buttons[1]["callback_data"] == "rg:m1:nl"

    # A full region is answered with the nearest that has room.
    refused = await press(mirrored, user, "rg:m1:fi")
    assert "Finland cannot take new customers right now" in (refused.text or "")
    offered = [row[0]["callback_data"] for row in (refused.reply_markup or {})["inline_keyboard"]]
    assert offered[:-1] == ["rg:m1:de"]

    # The region offers two protocols: the customer picks one.
    protocols = await press(mirrored, user, "rg:m1:de")
    assert "Which protocol" in (protocols.text or "")
    names = [row[0]["text"] for row in (protocols.reply_markup or {})["inline_keyboard"]]
    assert names[:-1] == ["Trojan", "VLESS"]
    # The customer sees the price of the region they picked, and the checkout names it.
    details = await press(mirrored, user, "proto:m1:trojan")
    assert "Region: 🇩🇪 Germany" in (details.text or "")
    assert "Protocol: Trojan" in (details.text or "")
    assert "Price: 249" in (details.text or "")
    await press(mirrored, user, "pq:m1:yookassa:RUB:24900")
    [request] = await commands(mirrored, "bot.checkout.requested.v1", customer_id)
    assert (request["region"], request["protocol"], request["quote_id"]) == (
        "de",
        "trojan",
        str(DE_QUOTE),
    )


async def test_a_single_available_region_is_chosen_without_asking(mirrored: BotWorld) -> None:
    await publish(mirrored, regions(20, NL, FI_FULL, default="nl"))
    user, customer_id = await started(mirrored, "ru")
    await press(mirrored, user, "m:buy")
    details = await press(mirrored, user, "plan:m1")
    assert "Регион: 🇳🇱 Нидерланды" in (details.text or "")
    async with mirrored.sessions() as session:
        customer = await session.get(Customer, customer_id)
    assert customer is not None
    assert customer.chosen_region == "nl"


async def granted(world: BotWorld, customer_id: uuid.UUID, region: str, protocol: str) -> None:
    end = datetime.now(UTC) + timedelta(days=30)
    access = AccessGranted(
        subscription_id=uuid.uuid4(),
        customer_id=customer_id,
        region=region,
        panel_id=f"{region}-1",
        panel_username="vpn_moving",
        subscription_url=f"https://{region}-1.vpn.example/sub/abc",
        expires_at=end,
        traffic_limit_bytes=0,
        paid_until=end,
        protocol=protocol,
    )
    await world.handle(lambda ctx: record_access(access, ctx), access)


def buttons(message: TranscriptMessage) -> list[tuple[str, str]]:
    rows = (message.reply_markup or {})["inline_keyboard"]
    return [(row[0]["text"], row[0]["callback_data"]) for row in rows]


async def test_a_subscriber_changes_region_and_protocol_among_what_is_offered(
    mirrored: BotWorld,
) -> None:
    nl = NL.model_copy(update={"protocols": ("trojan", "vless")})
    se = RegionOffer(
        region="se",
        names={"ru": "Швеция", "en": "Sweden"},
        flag="🇸🇪",
        available=True,
        protocols=("shadowsocks", "vmess"),
    )
    await publish(mirrored, regions(20, nl, DE, FI_FULL, se))
    user, customer_id = await started(mirrored, "en")
    await granted(mirrored, customer_id, "nl", "vless")
    mine = await press(mirrored, user, "m:subscription")
    assert buttons(mine)[:2] == [
        ("🌍 Change region", "m:move"),
        ("🔐 Change protocol", "m:protocol"),
    ]

    # Another region serving their protocol: moved with it. Full regions are not offered.
    step = await press(mirrored, user, "m:move")
    assert [data for _, data in buttons(step)][:-1] == ["ca:de:", "ca:se:"]
    done = await press(mirrored, user, "ca:de:")
    assert "we are changing your access" in (done.text or "")
    # One that does not serve it: the customer picks one of its own.
    await press(mirrored, user, "m:subscription")
    await press(mirrored, user, "m:move")
    step = await press(mirrored, user, "ca:se:")
    assert [name for name, _ in buttons(step)][:-1] == ["Shadowsocks", "VMess"]
    await press(mirrored, user, "ca:se:vmess")
    # Another protocol where they are: the ones they do not have yet.
    await press(mirrored, user, "m:subscription")
    step = await press(mirrored, user, "m:protocol")
    assert "Protocol: VLESS" in (step.text or "")
    assert buttons(step)[:-1] == [("Trojan", "ca:nl:trojan")]
    await press(mirrored, user, "ca:nl:trojan")
    asked = await commands(mirrored, "bot.access.change_requested.v1", customer_id)
    assert [(c.get("region"), c.get("protocol")) for c in asked] == [
        ("de", None),
        ("se", "vmess"),
        (None, "trojan"),
    ]

    # Buttons gone stale by the time they are pressed are answered, and ask nothing.
    await press(mirrored, user, "m:subscription")
    await press(mirrored, user, "m:move")
    de_full = DE.model_copy(update={"available": False})
    await publish(mirrored, regions(21, nl, de_full, FI_FULL, se))
    full = await press(mirrored, user, "ca:de:")
    assert "cannot take new customers any more" in (full.text or "")
    assert [data for _, data in buttons(full)][:-1] == ["ca:se:"]
    await press(mirrored, user, "m:subscription")
    await press(mirrored, user, "m:protocol")
    vless_only = nl.model_copy(update={"protocols": ("vless",)})
    await publish(mirrored, regions(22, vless_only, de_full, FI_FULL, se))
    gone = await press(mirrored, user, "ca:nl:trojan")
    assert "no longer offered there" in (gone.text or "")
    assert len(await commands(mirrored, "bot.access.change_requested.v1", customer_id)) == 3
