from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from billing.catalog import digest, plans_of
from billing.checkout import order_id_for, refusal
from billing.models import PlanRow
from contracts.bot import RequestCheckout


def plan(plan_id: str = "m1", *, active: bool = True, price: int = 19900) -> PlanRow:
    return PlanRow(
        plan_id=plan_id,
        title_ru="1 месяц",
        title_en="1 month",
        duration_days=30,
        price_minor=price,
        currency="RUB",
        traffic_limit_bytes=0,
        active=active,
        position=1,
    )


def request(plan_id: str = "m1", provider: str = "yookassa") -> RequestCheckout:
    return RequestCheckout(
        checkout_id=uuid4(),
        customer_id=uuid4(),
        plan_id=plan_id,
        provider=provider,
        requested_at=datetime.now(UTC),
    )


def test_the_order_of_a_checkout_is_the_same_on_every_attempt() -> None:
    checkout = UUID("7e0f6f8a-3c1e-4b8e-9d8e-2a0b6c5d4e3f")
    assert order_id_for(checkout) == order_id_for(checkout)
    assert order_id_for(checkout) != order_id_for(uuid4())


@pytest.mark.parametrize(
    ("row", "req", "code"),
    [
        (None, request(), "plan_not_found"),
        (plan(active=False), request(), "plan_inactive"),
        (plan(), request(provider="wata"), "provider_unsupported"),
    ],
)
def test_checkouts_that_cannot_go_ahead_say_why(
    row: PlanRow | None, req: RequestCheckout, code: str
) -> None:
    refused = refusal(row, req)
    assert refused is not None
    assert refused[0] == code


def test_an_active_plan_with_a_configured_provider_can_be_bought() -> None:
    assert refusal(plan(), request()) is None


def test_the_catalog_digest_changes_with_what_customers_see_only() -> None:
    rows = [plan("m1"), plan("m3", price=54900)]
    same = [plan("m3", price=54900), plan("m1")]
    assert digest(plans_of(rows)) == digest(plans_of(same))
    assert digest(plans_of(rows)) != digest(plans_of([plan("m1", price=1), plan("m3")]))
