from collections import defaultdict
from collections.abc import Callable
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain import ledger
from billing.domain.ledger import AccountKind, Entry, Posting, UnbalancedEntry
from contracts.money import Money

CUSTOMER = UUID("3f2b8c1e-5a4d-4e6f-9b7a-1c2d3e4f5a6b")
ORDER = UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")

currencies = st.sampled_from(["RUB", "XTR", "USD"])
amounts = st.builds(Money, amount_minor=st.integers(1, 10**12), currency=currencies)


def totals(entry: Entry) -> dict[str, int]:
    by_currency: dict[str, int] = defaultdict(int)
    for posting in entry.postings:
        by_currency[posting.currency] += posting.amount_minor
    return dict(by_currency)


def balanced(entry: Entry) -> bool:
    return len(entry.postings) >= 2 and all(total == 0 for total in totals(entry).values())


Builder = Callable[[Money, str], Entry]

BUILDERS: dict[str, Builder] = {
    "plan_paid_by_provider": lambda amount, cause: ledger.plan_paid_by_provider(
        provider="yookassa",
        provider_payment_id=cause,
        order_id=ORDER,
        customer_id=CUSTOMER,
        amount=amount,
    ),
    "topup_paid_by_provider": lambda amount, cause: ledger.topup_paid_by_provider(
        provider="yookassa",
        provider_payment_id=cause,
        order_id=ORDER,
        customer_id=CUSTOMER,
        paid=amount,
        credit=amount,
    ),
    "plan_paid_from_wallet": lambda amount, cause: ledger.plan_paid_from_wallet(
        order_id=UUID(cause), customer_id=CUSTOMER, amount=amount
    ),
    "plan_refunded_by_provider": lambda amount, cause: ledger.plan_refunded(
        source="yookassa", refund_key=cause, order_id=ORDER, customer_id=CUSTOMER, amount=amount
    ),
    "plan_refunded_to_wallet": lambda amount, cause: ledger.plan_refunded(
        source=ledger.WALLET_SOURCE,
        refund_key=cause,
        order_id=ORDER,
        customer_id=CUSTOMER,
        amount=amount,
    ),
    "topup_refunded": lambda amount, cause: ledger.topup_refunded(
        provider="yookassa", refund_key=cause, order_id=ORDER, customer_id=CUSTOMER, amount=amount
    ),
    "bonus": lambda amount, cause: ledger.bonus(key=cause, customer_id=CUSTOMER, amount=amount),
}

causes = st.uuids().map(str)


@pytest.mark.parametrize("name", BUILDERS)
@given(amount=amounts, cause=causes)
def test_every_builder_makes_an_entry_that_sums_to_zero_per_currency(
    name: str, amount: Money, cause: str
) -> None:
    entry = BUILDERS[name](amount, cause)

    assert balanced(entry)
    assert {p.currency for p in entry.postings} == {amount.currency}
    assert sorted(p.amount_minor for p in entry.postings) == [
        -amount.amount_minor,
        amount.amount_minor,
    ]
    assert entry.customer_id == CUSTOMER


@given(paid=st.integers(1, 10**9), credit=st.integers(1, 10**12))
def test_a_cross_currency_topup_balances_through_the_exchange_accounts(
    paid: int, credit: int
) -> None:
    entry = ledger.topup_paid_by_provider(
        provider="telegram_stars",
        provider_payment_id="charge-1",
        order_id=ORDER,
        customer_id=CUSTOMER,
        paid=Money(amount_minor=paid, currency="XTR"),
        credit=Money(amount_minor=credit, currency="RUB"),
    )

    assert balanced(entry)
    assert totals(entry) == {"XTR": 0, "RUB": 0}
    by_account = {p.account.account_id: p.amount_minor for p in entry.postings}
    assert by_account == {
        "clearing:telegram_stars:XTR": -paid,
        "exchange:XTR": paid,
        "exchange:RUB": -credit,
        f"wallet:{CUSTOMER}:RUB": credit,
    }


def test_a_same_currency_topup_must_credit_what_was_paid() -> None:
    with pytest.raises(UnbalancedEntry):
        ledger.topup_paid_by_provider(
            provider="yookassa",
            provider_payment_id="p-1",
            order_id=ORDER,
            customer_id=CUSTOMER,
            paid=Money(amount_minor=50000, currency="RUB"),
            credit=Money(amount_minor=50001, currency="RUB"),
        )


@pytest.mark.parametrize("name", BUILDERS)
def test_a_builder_refuses_to_move_nothing(name: str) -> None:
    with pytest.raises(UnbalancedEntry, match="nothing"):
        BUILDERS[name](Money.zero("RUB"), str(uuid4()))


WALLET = ledger.wallet(CUSTOMER, "RUB")
REVENUE = ledger.revenue("yookassa", "RUB")


@pytest.mark.parametrize(
    "postings",
    [
        pytest.param((), id="no postings"),
        pytest.param((Posting(WALLET, 100),), id="one posting"),
        pytest.param((Posting(WALLET, -100), Posting(REVENUE, 99)), id="off by one"),
        pytest.param(
            (Posting(WALLET, -100), Posting(REVENUE, 100), Posting(REVENUE, 1)),
            id="a third posting",
        ),
        pytest.param(
            (Posting(WALLET, -100), Posting(ledger.revenue("yookassa", "XTR"), 100)),
            id="zero overall but not per currency",
        ),
        pytest.param((Posting(WALLET, 0), Posting(REVENUE, 0)), id="postings of nothing"),
    ],
)
def test_an_entry_that_does_not_balance_is_refused(postings: tuple[Posting, ...]) -> None:
    with pytest.raises(UnbalancedEntry):
        Entry(key="k", kind="plan_payment", postings=postings)


@given(
    amounts=st.lists(st.integers(-(10**9), 10**9).filter(bool), min_size=1, max_size=6),
    currency=currencies,
)
def test_any_set_of_postings_that_sums_to_zero_is_an_entry(
    amounts: list[int], currency: str
) -> None:
    accounts = [ledger.wallet(uuid4(), currency) for _ in amounts]
    postings = [Posting(account, amount) for account, amount in zip(accounts, amounts, strict=True)]
    rest = -sum(amounts)
    if rest:
        postings.append(Posting(ledger.bonuses(currency), rest))
    if len(postings) < 2:
        with pytest.raises(UnbalancedEntry):
            Entry(key="k", kind="bonus", postings=tuple(postings))
        return

    assert balanced(Entry(key="k", kind="bonus", postings=tuple(postings)))


@pytest.mark.parametrize(
    ("name", "source", "target"),
    [
        ("plan_paid_by_provider", "clearing:yookassa:RUB", "revenue:yookassa:RUB"),
        ("topup_paid_by_provider", "clearing:yookassa:RUB", f"wallet:{CUSTOMER}:RUB"),
        ("plan_paid_from_wallet", f"wallet:{CUSTOMER}:RUB", "revenue:wallet:RUB"),
        ("plan_refunded_by_provider", "refunds:yookassa:RUB", "clearing:yookassa:RUB"),
        ("plan_refunded_to_wallet", "refunds:wallet:RUB", f"wallet:{CUSTOMER}:RUB"),
        ("topup_refunded", f"wallet:{CUSTOMER}:RUB", "clearing:yookassa:RUB"),
        ("bonus", "bonuses:RUB", f"wallet:{CUSTOMER}:RUB"),
    ],
)
def test_each_builder_moves_money_between_the_accounts_its_cause_names(
    name: str, source: str, target: str
) -> None:
    entry = BUILDERS[name](Money(amount_minor=700, currency="RUB"), str(uuid4()))

    assert {p.account.account_id: p.amount_minor for p in entry.postings} == {
        source: -700,
        target: 700,
    }


@pytest.mark.parametrize("name", BUILDERS)
@given(first=amounts, second=amounts, cause=causes)
def test_the_key_comes_from_the_cause_and_nothing_else(
    name: str, first: Money, second: Money, cause: str
) -> None:
    # A retry of the same cause (even with a different amount) is the same entry by key.
    assert BUILDERS[name](first, cause).key == BUILDERS[name](second, cause).key
    assert BUILDERS[name](first, cause).key != BUILDERS[name](first, str(uuid4())).key


def test_each_kind_of_cause_has_its_own_key_space() -> None:
    cause = str(ORDER)
    amount = Money(amount_minor=100, currency="RUB")
    keys = {
        "payment": BUILDERS["plan_paid_by_provider"](amount, cause).key,
        "wallet-payment": BUILDERS["plan_paid_from_wallet"](amount, cause).key,
        "refund": BUILDERS["topup_refunded"](amount, cause).key,
        "bonus": BUILDERS["bonus"](amount, cause).key,
    }
    assert keys == {
        "payment": f"payment:yookassa:{cause}",
        "wallet-payment": f"wallet-payment:{cause}",
        "refund": f"refund:{cause}",
        "bonus": f"bonus:{cause}",
    }
    # One provider payment is one entry, whether it bought a plan or credit.
    assert (
        BUILDERS["plan_paid_by_provider"](amount, cause).key
        == BUILDERS["topup_paid_by_provider"](amount, cause).key
    )
    # The provider is part of a payment's key: two providers may reuse each other's ids.
    assert (
        ledger.plan_paid_by_provider(
            provider="wata",
            provider_payment_id=cause,
            order_id=ORDER,
            customer_id=CUSTOMER,
            amount=amount,
        ).key
        != keys["payment"]
    )


def test_accounts_are_named_by_kind_owner_and_currency() -> None:
    assert WALLET.account_id == f"wallet:{CUSTOMER}:RUB"
    assert WALLET.customer_id == CUSTOMER
    assert ledger.clearing("yookassa", "RUB").account_id == "clearing:yookassa:RUB"
    assert ledger.refunds("wallet", "XTR").account_id == "refunds:wallet:XTR"
    assert ledger.bonuses("RUB").account_id == "bonuses:RUB"
    assert ledger.exchange("XTR").account_id == "exchange:XTR"
    assert ledger.revenue("yookassa", "RUB").customer_id is None
    assert {kind.value for kind in AccountKind} == {
        "wallet",
        "clearing",
        "revenue",
        "refunds",
        "bonuses",
        "exchange",
    }
