from uuid import UUID, uuid4

import pytest

from billing.checkout import Item, Refusal, choose_price
from billing.domain.orders import OrderKind
from billing.orders import order_id_for
from billing.providers.base import Capabilities
from contracts.money import Money

PLAN = Item(
    kind=OrderKind.PLAN,
    item_id="m1",
    titles={"ru": "1 месяц", "en": "1 month"},
    prices={"RUB": 19900, "XTR": 150},
    duration_days=30,
)
TOPUP = Item(
    kind=OrderKind.TOPUP,
    item_id="t500",
    titles={"ru": "Баланс"},
    prices={"RUB": 50000, "XTR": 380},
    credit=Money(amount_minor=50000, currency="RUB"),
)


class Provider:
    def __init__(self, *currencies: str, minimum: dict[str, int] | None = None) -> None:
        self.name = "fake"
        self.capabilities = Capabilities(
            currencies=frozenset(currencies), min_amount_minor=minimum or {}
        )


def test_the_order_of_a_checkout_is_the_same_on_every_attempt() -> None:
    checkout = UUID("7e0f6f8a-3c1e-4b8e-9d8e-2a0b6c5d4e3f")
    assert order_id_for(checkout) == order_id_for(checkout)
    assert order_id_for(checkout) != order_id_for(uuid4())


@pytest.mark.parametrize(
    ("method", "currencies", "chosen", "price"),
    [
        ("yookassa", ("RUB",), None, Money(amount_minor=19900, currency="RUB")),
        ("telegram_stars", ("XTR",), None, Money(amount_minor=150, currency="XTR")),
        ("wata", ("RUB", "USD", "EUR"), "RUB", Money(amount_minor=19900, currency="RUB")),
    ],
)
def test_each_method_charges_the_price_in_a_currency_it_takes(
    method: str, currencies: tuple[str, ...], chosen: str | None, price: Money
) -> None:
    assert choose_price(PLAN, method, Provider(*currencies), "RUB", chosen) == price  # type: ignore[arg-type]


def test_the_wallet_pays_in_its_currency() -> None:
    assert choose_price(PLAN, "wallet", None, "RUB", None) == Money(
        amount_minor=19900, currency="RUB"
    )


@pytest.mark.parametrize(
    ("item", "method", "provider", "wallet", "chosen", "code"),
    [
        (PLAN, "wata", None, "RUB", None, "provider_unsupported"),
        (PLAN, "wata", Provider("USD", "EUR"), "RUB", None, "currency_not_offered"),
        (PLAN, "yookassa", Provider("RUB"), "RUB", "XTR", "currency_not_offered"),
        (PLAN, "wallet", None, None, None, "provider_unsupported"),
        (TOPUP, "wallet", None, "RUB", None, "provider_unsupported"),
        (
            PLAN,
            "wata",
            Provider("RUB", minimum={"RUB": 100000}),
            "RUB",
            None,
            "amount_not_accepted",
        ),
    ],
)
def test_checkouts_that_cannot_go_ahead_say_why(
    item: Item,
    method: str,
    provider: Provider | None,
    wallet: str | None,
    chosen: str | None,
    code: str,
) -> None:
    with pytest.raises(Refusal) as refused:
        choose_price(item, method, provider, wallet, chosen)  # type: ignore[arg-type]
    assert refused.value.code == code
