"""Promo codes on a real PostgreSQL: entered in the bot (accepted, refused, free days
added at once), used at checkout (the discount charged, the use taken with the order,
given back when it is never paid), every limit held under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from billing import promo_codes
from billing.domain.promos import Code
from billing.models import PromoCode, PromoRedemption
from billing.promos import PromoEntries
from chassis.db import transaction
from contracts.bot import PromoCodeEntered
from contracts.money import Money

from .conftest import M1_PRICE, Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GIB = 1024**3


async def made(billing: Billing, kind: str = "percent", **fields: Any) -> str:
    """A new code (a unique name) with ``fields``; 20 % off by default."""
    benefit: dict[str, Any] = {
        "percent": {"percent_off": 20},
        "fixed": {"amount_off": Money(amount_minor=5000, currency="RUB")},
        "free_days": {"free_days": 7},
        "extra_traffic": {"extra_traffic_bytes": 10 * GIB},
    }[kind]
    name = f"T{uuid.uuid4().hex[:10].upper()}"
    async with transaction(billing.sessions) as session:
        await promo_codes.create(session, Code(code=name, kind=kind, **{**benefit, **fields}))  # type: ignore[arg-type]
    return name


async def enter(
    billing: Billing, code: str, customer: uuid.UUID
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bot's command through the consumer; billing's answer and the customer's message."""
    request = PromoCodeEntered(
        request_id=uuid.uuid4(), customer_id=customer, code=code, entered_at=datetime.now(UTC)
    )
    await billing.consume(request, PromoEntries(grace_hours=0).entered)
    checked = [
        e
        for e in await billing.events(str(customer), "billing.promo.checked.v1")
        if e["request_id"] == str(request.request_id)
    ]
    told = await billing.events(str(customer), "notifier.notification.requested.v1")
    return checked[-1], told[-1]


async def uses(billing: Billing, code: str) -> tuple[int, dict[str, int]]:
    async with billing.sessions() as session:
        row = await session.get(PromoCode, code, populate_existing=True)
        assert row is not None
        statuses = await session.execute(
            select(PromoRedemption.status, func.count())
            .where(PromoRedemption.code == code)
            .group_by(PromoRedemption.status)
        )
        return row.uses, dict(statuses.tuples().all())


async def test_a_discount_code_is_accepted_then_charged_at_checkout(billing: Billing) -> None:
    code, customer = await made(billing), uuid.uuid4()
    checked, told = await enter(billing, code, customer)
    assert (checked["outcome"], checked["offer"]["percent_off"]) == ("accepted", 20)
    assert (told["template"], told["params"]["code"]) == ("promo.accepted", code)
    assert await uses(billing, code) == (0, {})  # accepting takes no use

    order = await billing.buy(customer=customer, promo=code)
    assert (order.amount_minor, order.list_amount_minor) == (M1_PRICE - M1_PRICE // 5, M1_PRICE)
    payment = await billing.control.payment(order.provider_payment_id or "")
    assert payment["payment"]["amount"] == {"value": "159.20", "currency": "RUB"}
    [ready] = await billing.events(str(order.checkout_id), "billing.checkout.ready.v1")
    assert ready["list_price"] == {"amount_minor": M1_PRICE, "currency": "RUB"}
    assert ready["promo_code"] == code
    assert await uses(billing, code) == (1, {"used": 1})

    # Once per customer: the second time it is refused, at entry and at checkout alike.
    again, told = await enter(billing, code, customer)
    assert (again["outcome"], again["reason_code"]) == ("refused", "promo_used")
    assert (told["template"], told["params"]["refusal"]) == ("promo.refused", "promo_used")
    refused = await checkout(billing, customer, code)
    assert refused == "promo_used"


async def checkout(billing: Billing, customer: uuid.UUID, code: str, plan: str = "m1") -> str:
    return await billing.checkout_outcome(customer, plan=plan, promo=code)


async def test_a_hundred_customers_at_once_get_exactly_the_ten_uses(billing: Billing) -> None:
    code = await made(billing, max_uses=10)
    outcomes = await asyncio.gather(*(checkout(billing, uuid.uuid4(), code) for _ in range(100)))
    assert sorted(set(outcomes)) == ["pending", "promo_exhausted"]
    assert outcomes.count("pending") == 10
    assert await uses(billing, code) == (10, {"reserved": 10})


async def test_a_use_comes_back_when_its_order_is_never_paid(billing: Billing) -> None:
    code = await made(billing, max_uses=1)
    order = await billing.buy(promo=code, pay=False)
    assert await checkout(billing, uuid.uuid4(), code) == "promo_exhausted"
    assert order.provider_payment_id is not None
    await billing.control.cancel(order.provider_payment_id)
    assert await billing.notify("payment.canceled", order.provider_payment_id) == "canceled"
    assert await uses(billing, code) == (0, {"released": 1})
    # Given back, it is someone else's; and the first customer's again, too.
    assert await checkout(billing, uuid.uuid4(), code) == "pending"
    assert await uses(billing, code) == (1, {"released": 1, "reserved": 1})


async def test_extra_traffic_is_added_to_the_plan_bought(billing: Billing) -> None:
    code = await made(billing, "extra_traffic")
    order = await billing.buy(promo=code)
    assert order.traffic_limit_bytes == 100 * GIB + 10 * GIB
    assert order.amount_minor == M1_PRICE
    [activated] = await billing.events(
        str(order.subscription_id), "billing.subscription.activated.v1"
    )
    assert activated["traffic_limit_bytes"] == 110 * GIB


async def test_free_days_are_added_at_once_and_extend_the_subscription(billing: Billing) -> None:
    paid = await billing.buy()
    before = await billing.subscription(paid.customer_id)
    code = await made(billing, "free_days")

    checked, told = await enter(billing, code, paid.customer_id)

    after = await billing.subscription(paid.customer_id)
    assert after.period_end == before.period_end + timedelta(days=7)
    assert checked["outcome"] == "activated"
    assert datetime.fromisoformat(checked["period_end"]) == after.period_end
    assert (told["template"], told["params"]["free_days"]) == ("promo.activated", 7)
    [extended] = await billing.events(
        str(after.subscription_id), "billing.subscription.extended.v1"
    )
    assert extended["traffic_limit_bytes"] == before.traffic_limit_bytes
    assert await uses(billing, code) == (1, {"used": 1})
    # Redelivered under a new id, the same request adds nothing more.
    assert (await enter(billing, code, paid.customer_id))[0]["reason_code"] == "promo_used"


async def test_free_days_for_a_newcomer_start_the_codes_plan(billing: Billing) -> None:
    newcomer = uuid.uuid4()
    assert (await enter(billing, await made(billing, "free_days"), newcomer))[0][
        "reason_code"
    ] == "promo_needs_subscription"
    checked, _ = await enter(billing, await made(billing, "free_days", plan_ids=("m1",)), newcomer)
    assert checked["outcome"] == "activated"
    subscription = await billing.subscription(newcomer)
    assert subscription.period_end - subscription.period_start == timedelta(days=7)
    # Free days are not a purchase: a first-purchase code is still theirs.
    first = await made(billing, first_purchase_only=True)
    assert (await enter(billing, first, newcomer))[0]["outcome"] == "accepted"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"valid_until": datetime(2020, 1, 1, tzinfo=UTC)}, "promo_expired"),
        ({"valid_from": datetime(2100, 1, 1, tzinfo=UTC)}, "promo_not_started"),
        ({"plan_ids": ("nosuch",)}, "promo_not_for_plan"),
        ({"first_purchase_only": True}, "promo_first_purchase_only"),
    ],
    ids=["expired", "not-started", "other-plan", "first-purchase"],
)
async def test_a_code_outside_its_limits_changes_nothing(
    billing: Billing, fields: dict[str, Any], reason: str
) -> None:
    payer = (await billing.buy()).customer_id
    code = await made(billing, **fields)
    assert await checkout(billing, payer, code) == reason
    assert await uses(billing, code) == (0, {})


async def test_an_unknown_code_is_refused(billing: Billing) -> None:
    checked, told = await enter(billing, "NOSUCHCODE", uuid.uuid4())
    assert (checked["outcome"], checked["reason_code"]) == ("refused", "promo_unknown")
    assert told["params"] == {"code": "NOSUCHCODE", "refusal": "promo_unknown"}
