"""Autopay in the bot: the consent before a renewing payment, the mirror of billing's
state, and turning it off, driven through the Telegram sandbox and the bot's database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from bot.autopay import TERMS_VERSION, record_change
from bot.catalog import mirror_catalog
from bot.events import record_subscription
from bot.models import Customer, CustomerAutopay, CustomerSubscription
from contracts.billing import AutopayChanged, CatalogPublished, SubscriptionActivated
from contracts.money import Money
from sandbox.telegram import SandboxUser, TranscriptMessage

from .conftest import METHODS, PLAN, BotWorld, tables

pytestmark = pytest.mark.integration

PRICE = Money(amount_minor=19900, currency="RUB")
TERMS = "apt:m1:yookassa:RUB"
CONSENT = "ap:m1:yookassa:RUB:19900"
ONCE = "pq:m1:yookassa:RUB:19900"


async def shopper(world: BotWorld) -> tuple[SandboxUser, uuid.UUID]:
    """A customer looking at the ways to pay for the plan `m1`."""
    user = await world.telegram.create_user("Payer", language_code="en")
    await to_the_plan(world, user)
    async with world.sessions() as session:
        customer_id = await session.scalar(
            select(Customer.customer_id).where(Customer.telegram_user_id == user.id)
        )
    assert customer_id is not None
    return user, customer_id


async def to_the_plan(world: BotWorld, user: SandboxUser) -> None:
    await world.telegram.send_text(user.id, "/buy")
    await world.deliver(await world.next_update())
    await press(world, user, "plan:m1")


async def press(
    world: BotWorld, user: SandboxUser, data: str, *, message_id: int | None = None
) -> TranscriptMessage:
    """Press the button on the bot's latest message (or ``message_id``); what it shows then."""
    transcript = await world.telegram.transcript(user.id)
    target = message_id or transcript.bot_messages()[-1].message_id
    query_id = await world.telegram.press_button(user.id, target, callback_data=data)
    await world.deliver(await world.next_update())
    transcript = await world.telegram.transcript(user.id)
    assert transcript.callback_query(query_id).answer is not None  # the press is answered
    return next(m for m in transcript.bot_messages() if m.message_id == target)


def buttons(message: TranscriptMessage) -> list[tuple[str, str]]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


async def published(world: BotWorld, event_type: str, customer_id: uuid.UUID) -> list[Any]:
    async with world.sessions() as session:
        payloads = await session.scalars(
            select(tables.outbox.c.payload)
            .where(tables.outbox.c.event_type == event_type)
            .order_by(tables.outbox.c.id)
        )
        events = [json.loads(bytes(payload)) for payload in payloads]
    return [event for event in events if event["customer_id"] == str(customer_id)]


async def checkouts(world: BotWorld, customer_id: uuid.UUID) -> list[Any]:
    return await published(world, "bot.checkout.requested.v1", customer_id)


async def catalog_with(
    world: BotWorld,
    version: int,
    *,
    on_sale: bool = True,
    rub_price: int = 19900,
    **yookassa: object,
) -> None:
    """Billing publishes a new catalog: `m1` (on sale or not, at a rouble price), YooKassa
    changed as given.

    Each test uses versions of its own: the bot parses the catalog once per version.
    """
    methods = [m | yookassa if m["provider"] == "yookassa" else m for m in METHODS]
    prices = [
        {"amount_minor": rub_price, "currency": "RUB"},
        {"amount_minor": 150, "currency": "XTR"},
    ]
    event = CatalogPublished.model_validate(
        {
            "catalog_version": version,
            "plans": [PLAN | {"active": on_sale, "prices": prices}],
            "payment_methods": methods,
            "wallet_currency": "RUB",
            "published_at": datetime.now(UTC).isoformat(),
        }
    )
    await world.handle(lambda ctx: mirror_catalog(event, ctx), event)


async def test_a_method_that_can_renew_offers_it_beside_paying_once(world: BotWorld) -> None:
    user, _ = await shopper(world)
    transcript = await world.telegram.transcript(user.id)
    plan_screen = transcript.bot_messages()[-1]
    offered = [data for _, data in buttons(plan_screen)]
    assert offered.index(TERMS) == offered.index(ONCE) + 1
    assert "apt:m1:telegram_stars:XTR" not in offered  # Stars cannot renew by itself


async def test_the_terms_come_first_and_agreeing_pays_with_consent(world: BotWorld) -> None:
    user, customer_id = await shopper(world)

    screen = await press(world, user, TERMS)
    text = screen.text or ""
    assert "Renewing automatically: the terms" in text
    assert "199\u00a0₽" in text
    assert "every 30 days" in text
    assert "Turn off autopay" in text
    assert buttons(screen) == [
        ("✅ Pay and renew automatically", CONSENT),
        ("Pay once", ONCE),
        ("« Back", "plan:m1"),
    ]
    assert await checkouts(world, customer_id) == []  # nothing asked of billing yet

    pressed = datetime.now(UTC)
    assert "Preparing your payment link" in ((await press(world, user, CONSENT)).text or "")
    [renewing] = await checkouts(world, customer_id)
    assert renewing["plan_id"] == "m1"
    assert (renewing["provider"], renewing["currency"]) == ("yookassa", "RUB")
    assert renewing["save_payment_method"] is True
    consent = renewing["autopay_consent"]
    assert consent["terms_version"] == TERMS_VERSION
    assert consent["language"] == "en"
    assert consent["amount"] == {"amount_minor": 19900, "currency": "RUB"}
    assert consent["period_days"] == 30
    assert datetime.fromisoformat(consent["consented_at"]) >= pressed - timedelta(seconds=1)

    # The same plan again, once (from the terms screen too): nothing is saved.
    await to_the_plan(world, user)
    await press(world, user, TERMS)
    assert "Preparing your payment link" in ((await press(world, user, ONCE)).text or "")
    once = (await checkouts(world, customer_id))[-1]
    assert once["save_payment_method"] is False
    assert once.get("autopay_consent") is None


async def test_paying_once_by_a_method_that_can_renew_asks_nothing(world: BotWorld) -> None:
    user, customer_id = await shopper(world)
    assert "Preparing your payment link" in ((await press(world, user, ONCE)).text or "")
    [once] = await checkouts(world, customer_id)
    assert once["save_payment_method"] is False


async def test_a_consent_to_another_price_asks_again(world: BotWorld) -> None:
    user, customer_id = await shopper(world)
    screen = await press(world, user, TERMS)
    await catalog_with(world, 104, rub_price=24900)  # the price went up meanwhile
    stale = await press(world, user, CONSENT, message_id=screen.message_id)
    # The plan again at its new price, to agree to that one or not.
    assert "The price has changed" in (stale.text or "")
    assert "249" in (stale.text or "")
    assert await checkouts(world, customer_id) == []
    await catalog_with(world, 105)


async def test_a_method_that_cannot_renew_pays_at_once(world: BotWorld) -> None:
    user, customer_id = await shopper(world)

    screen = await press(world, user, "pq:m1:telegram_stars:XTR:150")

    assert "Preparing your payment link" in (screen.text or "")
    [checkout] = await checkouts(world, customer_id)
    assert checkout["provider"] == "telegram_stars"
    assert checkout["save_payment_method"] is False
    assert checkout.get("autopay_consent") is None


async def test_the_consent_waits_through_the_receipt_email_question(world: BotWorld) -> None:
    await catalog_with(world, 101, receipt_email_required=True)
    user, customer_id = await shopper(world)
    await press(world, user, TERMS)

    pressed = datetime.now(UTC)
    asked = await press(world, user, CONSENT)
    assert "e-mail" in (asked.text or "")
    assert await checkouts(world, customer_id) == []

    await world.telegram.send_text(user.id, "ivan@example.ru")
    await world.deliver(await world.next_update())
    answered = datetime.now(UTC)

    [checkout] = await checkouts(world, customer_id)
    assert checkout["receipt_email"] == "ivan@example.ru"
    assert checkout["save_payment_method"] is True
    consent = checkout["autopay_consent"]
    assert consent["amount"] == {"amount_minor": 19900, "currency": "RUB"}
    assert consent["period_days"] == 30
    consented_at = datetime.fromisoformat(consent["consented_at"])
    # When the customer pressed to agree, not when they typed the address.
    assert pressed - timedelta(seconds=1) <= consented_at <= answered
    texts = [m.text or "" for m in (await world.telegram.transcript(user.id)).bot_messages()]
    assert "Preparing your payment link" in texts[-1]


async def test_a_consent_screen_from_an_older_catalog_is_answered(world: BotWorld) -> None:
    user, customer_id = await shopper(world)
    screen = await press(world, user, TERMS)
    await catalog_with(world, 102, recurring=False)  # the shop switched autopay off

    stale = await press(world, user, CONSENT, message_id=screen.message_id)

    assert "no longer on sale" in (stale.text or "")
    assert await checkouts(world, customer_id) == []
    # Paying once is still what it was.
    await press(world, user, "plan:m1", message_id=screen.message_id)
    assert "Preparing" in ((await press(world, user, "pq:m1:yookassa:RUB:19900")).text or "")


async def test_a_consent_for_a_plan_gone_from_sale_is_answered(world: BotWorld) -> None:
    user, customer_id = await shopper(world)
    await press(world, user, TERMS)
    await catalog_with(world, 103, on_sale=False)

    assert "no longer on sale" in ((await press(world, user, CONSENT)).text or "")
    assert await checkouts(world, customer_id) == []


def changed(customer_id: uuid.UUID, revision: int, at: datetime, **state: Any) -> AutopayChanged:
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "enabled": True,
        "revision": revision,
        "provider": "yookassa",
        "method_title": "Bank card *4477",
        "amount": PRICE,
        "next_charge_at": datetime(2027, 1, 14, 9, 0, tzinfo=UTC),
        "period_end": datetime(2027, 1, 15, 9, 0, tzinfo=UTC),
        "changed_at": at,
    }
    if state.get("enabled") is False:
        values |= {"amount": None, "next_charge_at": None, "method_title": None}
    return AutopayChanged.model_validate(values | state)


async def billing_says(world: BotWorld, event: AutopayChanged) -> CustomerAutopay:
    await world.handle(lambda ctx: record_change(event, ctx), event)
    async with world.sessions() as session:
        row = await session.get(CustomerAutopay, event.customer_id)
    assert row is not None
    return row


async def test_the_mirror_keeps_the_newest_revision(world: BotWorld) -> None:
    customer_id, at = uuid.uuid4(), datetime(2026, 12, 15, 12, 0, tzinfo=UTC)

    first = await billing_says(world, changed(customer_id, 2, at))
    assert (first.enabled, first.revision, first.amount_minor) == (True, 2, 19900)
    assert first.next_charge_at == datetime(2027, 1, 14, 9, 0, tzinfo=UTC)

    older = changed(customer_id, 1, at - timedelta(days=1), enabled=False, reason="customer")
    assert (await billing_says(world, older)).enabled is True
    same = changed(customer_id, 2, at, enabled=False, reason="charges_failed")
    assert (await billing_says(world, same)).enabled is True

    off = changed(customer_id, 3, at + timedelta(days=1), enabled=False, reason="charges_failed")
    row = await billing_says(world, off)
    assert (row.enabled, row.revision, row.reason) == (False, 3, "charges_failed")
    assert (row.amount_minor, row.next_charge_at) == (None, None)


async def customer_with_autopay(world: BotWorld) -> tuple[SandboxUser, uuid.UUID]:
    """A subscriber whose autopay billing reported on (revision 1)."""
    user = await world.telegram.create_user("Renewer", language_code="en")
    await world.telegram.send_text(user.id, "/start")
    await world.deliver(await world.next_update())
    async with world.sessions() as session:
        customer_id = await session.scalar(
            select(Customer.customer_id).where(Customer.telegram_user_id == user.id)
        )
    assert customer_id is not None
    start = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)
    activated = SubscriptionActivated(
        subscription_id=uuid.uuid4(),
        customer_id=customer_id,
        plan_id="m1",
        order_id=uuid.uuid4(),
        period_start=start,
        period_end=start + timedelta(days=30),
        traffic_limit_bytes=0,
        revision=1,
    )
    await world.handle(lambda ctx: record_subscription(activated, ctx), activated)
    await billing_says(world, changed(customer_id, 1, datetime.now(UTC) - timedelta(minutes=1)))
    return user, customer_id


async def my_subscription(world: BotWorld, user: SandboxUser) -> TranscriptMessage:
    await world.telegram.send_text(user.id, "/subscription")
    await world.deliver(await world.next_update())
    return (await world.telegram.transcript(user.id)).bot_messages()[-1]


async def test_turning_autopay_off_is_at_once_and_said_once(world: BotWorld) -> None:
    user, customer_id = await customer_with_autopay(world)
    earlier = await my_subscription(world, user)
    screen = await my_subscription(world, user)
    assert "Autopay: on — 199\u00a0₽ from Bank card *4477 on January 14, 2027" in (
        screen.text or ""
    )
    assert ("Turn off autopay", "apoff") in buttons(screen)

    off = await press(world, user, "apoff", message_id=screen.message_id)

    text = off.text or ""
    assert "Autopay is off" in text
    assert "payment method is forgotten" in text
    assert "valid until January 15, 2027" in text
    assert "/buy" in text
    assert ("Turn off autopay", "apoff") not in buttons(off)
    [event] = await published(world, "bot.customer.autopay_turned_off.v1", customer_id)
    async with world.sessions() as session:
        row = await session.get(CustomerAutopay, customer_id)
    assert row is not None
    assert (row.enabled, row.reason) == (False, "customer")
    assert row.turned_off_at == datetime.fromisoformat(event["turned_off_at"])

    # The button on an older screen: the same answer, and billing is not told twice.
    again = await press(world, user, "apoff", message_id=earlier.message_id)
    assert "Autopay is off" in (again.text or "")
    assert len(await published(world, "bot.customer.autopay_turned_off.v1", customer_id)) == 1
    assert "Autopay: off" in ((await my_subscription(world, user)).text or "")


async def test_billings_on_from_before_the_press_does_not_turn_it_back_on(
    world: BotWorld,
) -> None:
    user, customer_id = await customer_with_autopay(world)
    await press(world, user, "apoff", message_id=(await my_subscription(world, user)).message_id)
    async with world.sessions() as session:
        row = await session.get(CustomerAutopay, customer_id)
    assert row is not None
    assert row.turned_off_at is not None
    turned_off_at = row.turned_off_at

    # Billing rescheduled the charge just before it read the press.
    crossing = changed(customer_id, 2, turned_off_at - timedelta(milliseconds=5))
    ignored = await billing_says(world, crossing)
    assert (ignored.enabled, ignored.revision) == (False, 1)
    # Then it reads the press: off, as billing now says.
    off = changed(
        customer_id, 3, turned_off_at + timedelta(seconds=1), enabled=False, reason="customer"
    )
    row = await billing_says(world, off)
    assert (row.enabled, row.revision) == (False, 3)
    # A later purchase with a new consent turns it on again.
    renewed = await billing_says(world, changed(customer_id, 4, turned_off_at + timedelta(days=1)))
    assert (renewed.enabled, renewed.revision) == (True, 4)
    screen = await my_subscription(world, user)
    assert ("Turn off autopay", "apoff") in buttons(screen)


async def test_a_turn_off_press_with_no_subscription_behind_it_is_answered(
    world: BotWorld,
) -> None:
    user, customer_id = await customer_with_autopay(world)
    screen = await my_subscription(world, user)
    async with world.sessions.begin() as session:  # as if the button came from elsewhere
        await session.execute(
            delete(CustomerSubscription).where(CustomerSubscription.customer_id == customer_id)
        )

    shown = await press(world, user, "apoff", message_id=screen.message_id)

    assert "no subscription yet" in (shown.text or "")
    assert len(await published(world, "bot.customer.autopay_turned_off.v1", customer_id)) == 1
