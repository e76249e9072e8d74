"""The ledger against a real PostgreSQL with billing's migrations: a model-checked property
over random sequences of money movements, purchases racing for one wallet, idempotency
under a race, and the database's own refusal of a negative wallet.

Every example and test works in fresh customers and fresh provider names, so they share
one database without seeing each other; only ``revenue:wallet:*`` and ``bonuses:*`` are
shared, and those are compared as a change over the example.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
import pytest_asyncio
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from billing import ledger
from billing.domain import ledger as entries
from billing.domain.ledger import Account, Entry, Posting
from billing.models import LedgerAccount, LedgerEntry, LedgerPosting
from chassis.db import session_factory, transaction
from chassis.migrations import upgrade_to_head_async
from contracts.money import Money
from devstack.pytest_plugin import DatabaseFactory

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
CURRENCIES = ("RUB", "XTR")
T = TypeVar("T")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sessions(database_factory: DatabaseFactory) -> AsyncIterator[Sessions]:
    url = await database_factory("billing")
    await upgrade_to_head_async("billing:migrations", url)
    engine = create_async_engine(url, pool_size=20, max_overflow=0)
    yield session_factory(engine)
    await engine.dispose()


async def post(sessions: Sessions, entry: Entry) -> bool:
    async with transaction(sessions) as session:
        return await ledger.post(session, entry)


async def debit(sessions: Sessions, wallet: Account, entry: Entry) -> Money:
    async with transaction(sessions) as session:
        return await ledger.debit_wallet(session, wallet, entry)


async def balance(sessions: Sessions, account: Account) -> int:
    """Signed, for every kind of account."""
    async with sessions() as session:
        return await ledger.balance_of(session, account)


async def sum_of_postings(sessions: Sessions, account: Account) -> int:
    async with sessions() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(LedgerPosting.amount_minor), 0)).where(
                LedgerPosting.account_id == account.account_id
            )
        )
    return int(total or 0)


async def negative_wallets(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(LedgerAccount.account_id).where(
                LedgerAccount.kind == "wallet", LedgerAccount.balance_minor < 0
            )
        )
        return list(rows)


async def unbalanced(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return await ledger.unbalanced(session)


async def entries_keyed(sessions: Sessions, key: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.idempotency_key == key)
        )
    return int(count or 0)


async def revenue_lines(sessions: Sessions) -> dict[tuple[str, str], tuple[int, int]]:
    async with sessions() as session:
        lines = await ledger.revenue(session)
    return {(r.source, r.currency): (r.earned_minor, r.refunded_minor) for r in lines}


def rub(amount_minor: int) -> Money:
    return Money(amount_minor=amount_minor, currency="RUB")


def credit(customer: uuid.UUID, amount: Money) -> Entry:
    return entries.bonus(key=str(uuid.uuid4()), customer_id=customer, amount=amount)


def purchase(customer: uuid.UUID, amount: Money) -> Entry:
    return entries.plan_paid_from_wallet(order_id=uuid.uuid4(), customer_id=customer, amount=amount)


# --- the property: random sequences of movements against a model ---------------------------

currencies = st.sampled_from(CURRENCIES)
credits = st.builds(Money, amount_minor=st.integers(100, 1000), currency=currencies)
prices = st.builds(Money, amount_minor=st.integers(1, 1000), currency=currencies)
customers = st.integers(0, 2)
providers = st.integers(0, 1)


@dataclass(frozen=True)
class TopUp:
    customer: int
    provider: int
    amount: Money


@dataclass(frozen=True)
class PlanByProvider:
    customer: int
    provider: int
    amount: Money


@dataclass(frozen=True)
class PlanFromWallet:
    wallet: int
    """Which wallet credited so far (modulo their number), or an empty one when none was."""
    amount_minor: int


@dataclass(frozen=True)
class RefundPlan:
    pick: int
    """Which earlier plan (modulo those with something left to refund)."""
    share: int
    """How much of what is left (modulo it)."""


@dataclass(frozen=True)
class RefundTopUp:
    wallet: int
    """As for :class:`PlanFromWallet`."""
    provider: int
    amount_minor: int


@dataclass(frozen=True)
class Bonus:
    customer: int
    amount: Money


@dataclass(frozen=True)
class Duplicate:
    pick: int
    """Which earlier posted entry (modulo their number)."""
    altered: bool
    """A retry that carries other amounts under the same key."""


Operation = TopUp | PlanByProvider | PlanFromWallet | RefundPlan | RefundTopUp | Bonus | Duplicate

operations = st.lists(
    st.one_of(
        st.builds(TopUp, customers, providers, credits),
        st.builds(PlanByProvider, customers, providers, prices),
        st.builds(PlanFromWallet, st.integers(0, 100), st.integers(1, 400)),
        st.builds(RefundPlan, st.integers(0, 100), st.integers(0, 10_000)),
        st.builds(RefundTopUp, st.integers(0, 100), providers, st.integers(1, 400)),
        st.builds(Bonus, customers, credits),
        st.builds(Duplicate, st.integers(0, 100), st.booleans()),
    ),
    min_size=5,
    max_size=30,
)


@dataclass
class Plan:
    source: str
    customer: int
    order_id: uuid.UUID
    currency: str
    left: int


@dataclass
class Model:
    """What the ledger should say, kept by hand, for one example's customers and providers."""

    customers: list[uuid.UUID]
    providers: list[str]
    wallets: Counter[tuple[int, str]] = field(default_factory=Counter)
    clearing: Counter[tuple[str, str]] = field(default_factory=Counter)
    earned: Counter[tuple[str, str]] = field(default_factory=Counter)
    refunded: Counter[tuple[str, str]] = field(default_factory=Counter)
    bonuses: Counter[str] = field(default_factory=Counter)
    posted: list[Entry] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)

    def wallet(self, customer: int, currency: str) -> Account:
        return entries.wallet(self.customers[customer], currency)

    def pick_wallet(self, pick: int) -> tuple[int, str]:
        credited = list(self.wallets)
        return credited[pick % len(credited)] if credited else (pick % len(self.customers), "RUB")


async def apply(sessions: Sessions, model: Model, op: Operation) -> None:
    cause = str(uuid.uuid4())
    order_id = uuid.uuid4()
    match op:
        case TopUp(customer, provider, amount):
            name, cur = model.providers[provider], amount.currency
            entry = entries.topup_paid_by_provider(
                provider=name,
                provider_payment_id=cause,
                order_id=order_id,
                customer_id=model.customers[customer],
                paid=amount,
                credit=amount,
            )
            assert await post(sessions, entry) is True
            model.wallets[customer, cur] += amount.amount_minor
            model.clearing[name, cur] -= amount.amount_minor
        case PlanByProvider(customer, provider, amount):
            name, cur = model.providers[provider], amount.currency
            entry = entries.plan_paid_by_provider(
                provider=name,
                provider_payment_id=cause,
                order_id=order_id,
                customer_id=model.customers[customer],
                amount=amount,
            )
            assert await post(sessions, entry) is True
            model.clearing[name, cur] -= amount.amount_minor
            model.earned[name, cur] += amount.amount_minor
            model.plans.append(Plan(name, customer, order_id, cur, amount.amount_minor))
        case PlanFromWallet(pick, amount_minor):
            customer, cur = model.pick_wallet(pick)
            amount = Money(amount_minor=amount_minor, currency=cur)
            entry = entries.plan_paid_from_wallet(
                order_id=order_id, customer_id=model.customers[customer], amount=amount
            )
            if not await _debit(sessions, model, customer, entry, amount):
                return
            model.earned[entries.WALLET_SOURCE, cur] += amount.amount_minor
            model.plans.append(
                Plan(entries.WALLET_SOURCE, customer, order_id, cur, amount.amount_minor)
            )
        case RefundPlan(pick, share):
            refundable = [plan for plan in model.plans if plan.left]
            if not refundable:
                return
            plan = refundable[pick % len(refundable)]
            amount = Money(amount_minor=1 + share % plan.left, currency=plan.currency)
            entry = entries.plan_refunded(
                source=plan.source,
                refund_key=cause,
                order_id=plan.order_id,
                customer_id=model.customers[plan.customer],
                amount=amount,
            )
            assert await post(sessions, entry) is True
            plan.left -= amount.amount_minor
            model.refunded[plan.source, plan.currency] += amount.amount_minor
            if plan.source == entries.WALLET_SOURCE:
                model.wallets[plan.customer, plan.currency] += amount.amount_minor
            else:
                model.clearing[plan.source, plan.currency] += amount.amount_minor
        case RefundTopUp(pick, provider, amount_minor):
            customer, cur = model.pick_wallet(pick)
            amount = Money(amount_minor=amount_minor, currency=cur)
            name = model.providers[provider]
            entry = entries.topup_refunded(
                provider=name,
                refund_key=cause,
                order_id=order_id,
                customer_id=model.customers[customer],
                amount=amount,
            )
            if not await _debit(sessions, model, customer, entry, amount):
                return
            model.clearing[name, amount.currency] += amount.amount_minor
        case Bonus(customer, amount):
            entry = entries.bonus(key=cause, customer_id=model.customers[customer], amount=amount)
            assert await post(sessions, entry) is True
            model.wallets[customer, amount.currency] += amount.amount_minor
            model.bonuses[amount.currency] -= amount.amount_minor
        case Duplicate(pick, altered):
            if not model.posted:
                return
            earlier = model.posted[pick % len(model.posted)]
            again = earlier
            if altered:
                doubled = tuple(Posting(p.account, p.amount_minor * 2) for p in earlier.postings)
                again = Entry(key=earlier.key, kind=earlier.kind, postings=doubled)
            assert await post(sessions, again) is False
            event("a duplicate changed nothing")
            return
    model.posted.append(entry)


async def _debit(
    sessions: Sessions, model: Model, customer: int, entry: Entry, amount: Money
) -> bool:
    """Take ``amount`` from the wallet as the model says the ledger must: all or nothing."""
    wallet = model.wallet(customer, amount.currency)
    held = model.wallets[customer, amount.currency]
    if held < amount.amount_minor:
        with pytest.raises(ledger.InsufficientFunds) as refused:
            await debit(sessions, wallet, entry)
        assert refused.value.balance == Money(amount_minor=held, currency=amount.currency)
        assert refused.value.needed == amount
        event("a wallet was too short")
        return False
    after = await debit(sessions, wallet, entry)
    assert after == Money(amount_minor=held - amount.amount_minor, currency=amount.currency)
    model.wallets[customer, amount.currency] -= amount.amount_minor
    event("a wallet paid")
    return True


async def shared_balances(sessions: Sessions) -> Counter[str]:
    shared = [entries.bonuses(c) for c in CURRENCIES]
    return Counter({account.account_id: await balance(sessions, account) for account in shared})


@settings(max_examples=40, deadline=None)
@given(ops=operations)
async def test_any_sequence_of_movements_keeps_the_books_as_the_model_says(
    sessions: Sessions, ops: list[Operation]
) -> None:
    tag = uuid.uuid4().hex[:8]
    model = Model(
        customers=[uuid.uuid4() for _ in range(3)],
        providers=[f"yookassa-{tag}", f"telegram_stars-{tag}"],
    )
    revenue_before = await revenue_lines(sessions)
    shared_before = await shared_balances(sessions)

    for op in ops:
        await apply(sessions, model, op)

    assert await unbalanced(sessions) == []
    assert await negative_wallets(sessions) == []
    for customer in range(len(model.customers)):
        for currency in CURRENCIES:
            wallet = model.wallet(customer, currency)
            expected = model.wallets[customer, currency]
            assert await balance(sessions, wallet) == expected
            assert await sum_of_postings(sessions, wallet) == expected
            async with sessions() as session:
                history = await ledger.wallet_history(session, wallet, limit=1000)
            assert sum(line.amount_minor for line in history) == expected
    for name in model.providers:
        for currency in CURRENCIES:
            clearing = entries.clearing(name, currency)
            assert await balance(sessions, clearing) == model.clearing[name, currency]

    revenue_after = await revenue_lines(sessions)
    changed = {
        line: (
            earned - revenue_before.get(line, (0, 0))[0],
            refunded - revenue_before.get(line, (0, 0))[1],
        )
        for line, (earned, refunded) in revenue_after.items()
    }
    expected_revenue = {
        line: (model.earned[line], model.refunded[line])
        for line in model.earned.keys() | model.refunded.keys()
    }
    assert {line: moved for line, moved in changed.items() if moved != (0, 0)} == {
        line: moved for line, moved in expected_revenue.items() if moved != (0, 0)
    }
    shared_after = await shared_balances(sessions)
    assert {
        currency: shared_after[f"bonuses:{currency}"] - shared_before[f"bonuses:{currency}"]
        for currency in CURRENCIES
    } == {currency: model.bonuses[currency] for currency in CURRENCIES}


# --- a few plain facts, one movement at a time ---------------------------------------------


async def test_posting_a_cause_twice_changes_nothing_the_second_time(sessions: Sessions) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    entry = entries.topup_paid_by_provider(
        provider=f"yookassa-{uuid.uuid4().hex[:8]}",
        provider_payment_id="pay-1",
        order_id=uuid.uuid4(),
        customer_id=customer,
        paid=rub(50000),
        credit=rub(50000),
    )

    assert await post(sessions, entry) is True
    assert await post(sessions, entry) is False
    async with transaction(sessions) as session:  # twice in one transaction, too
        assert await ledger.post(session, entry) is False
        assert await ledger.post(session, entry) is False

    assert await balance(sessions, wallet) == 50000
    assert await entries_keyed(sessions, entry.key) == 1
    async with sessions() as session:
        [line] = await ledger.wallet_history(session, wallet)
    assert (line.kind, line.amount_minor, line.currency) == ("topup", 50000, "RUB")
    assert line.order_id == entry.order_id


async def test_post_takes_from_a_wallet_that_holds_enough(sessions: Sessions) -> None:
    # A regression test: an upsert carrying the delta as the proposed row was refused by the
    # wallet's CHECK before PostgreSQL resolved the conflict, so no wallet could be debited.
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    await post(sessions, credit(customer, rub(30000)))

    assert await post(sessions, purchase(customer, rub(19900))) is True

    assert await balance(sessions, wallet) == 10100


async def test_a_wallet_purchase_takes_its_price_and_a_short_wallet_is_left_alone(
    sessions: Sessions,
) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    await post(sessions, credit(customer, rub(30000)))

    assert await debit(sessions, wallet, purchase(customer, rub(19900))) == rub(10100)
    with pytest.raises(ledger.InsufficientFunds) as refused:
        await debit(sessions, wallet, purchase(customer, rub(19900)))

    assert (refused.value.balance, refused.value.needed) == (rub(10100), rub(19900))
    assert await balance(sessions, wallet) == 10100
    async with sessions() as session:
        history = await ledger.wallet_history(session, wallet)
    assert [(line.kind, line.amount_minor) for line in history] == [
        ("plan_payment", -19900),
        ("bonus", 30000),
    ]


async def test_a_wallet_that_was_never_credited_pays_for_nothing(sessions: Sessions) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")

    with pytest.raises(ledger.InsufficientFunds) as refused:
        await debit(sessions, wallet, purchase(customer, rub(1)))

    assert refused.value.balance == rub(0)
    async with sessions() as session:
        assert await session.get(LedgerAccount, wallet.account_id) is None


async def test_a_wallet_purchase_retried_after_it_was_paid_takes_nothing_more(
    sessions: Sessions,
) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    await post(sessions, credit(customer, rub(50000)))
    entry = purchase(customer, rub(19900))

    assert await debit(sessions, wallet, entry) == rub(30100)
    assert await debit(sessions, wallet, entry) == rub(30100)

    assert await balance(sessions, wallet) == 30100
    assert await entries_keyed(sessions, entry.key) == 1


async def test_a_cross_currency_topup_is_balanced_in_each_currency(sessions: Sessions) -> None:
    customer = uuid.uuid4()
    provider = f"telegram_stars-{uuid.uuid4().hex[:8]}"
    entry = entries.topup_paid_by_provider(
        provider=provider,
        provider_payment_id="charge-1",
        order_id=uuid.uuid4(),
        customer_id=customer,
        paid=Money(amount_minor=380, currency="XTR"),
        credit=rub(50000),
    )

    assert await post(sessions, entry) is True

    assert await unbalanced(sessions) == []
    assert await balance(sessions, entries.wallet(customer, "RUB")) == 50000
    assert await balance(sessions, entries.clearing(provider, "XTR")) == -380
    async with sessions() as session:
        currencies = await session.scalars(
            select(LedgerPosting.currency)
            .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
            .where(LedgerEntry.idempotency_key == entry.key)
            .order_by(LedgerPosting.posting_id)
        )
        assert list(currencies) == ["XTR", "XTR", "RUB", "RUB"]


async def test_balance_of_reads_the_accounts_that_are_negative_by_design(
    sessions: Sessions,
) -> None:
    # The clearing, refunds, bonuses and exchange accounts are negative by design.
    customer = uuid.uuid4()
    provider = f"yookassa-{uuid.uuid4().hex[:8]}"
    await post(
        sessions,
        entries.plan_paid_by_provider(
            provider=provider,
            provider_payment_id="pay-1",
            order_id=uuid.uuid4(),
            customer_id=customer,
            amount=rub(19900),
        ),
    )
    clearing = entries.clearing(provider, "RUB")
    assert await balance(sessions, clearing) == -19900

    assert await balance(sessions, entries.revenue(provider, "RUB")) == 19900


# --- concurrency ---------------------------------------------------------------------------


async def together(
    n: int, step: Callable[[AsyncSession], Awaitable[T]], sessions: Sessions
) -> list[T | BaseException]:
    """Run ``step`` in ``n`` transactions that are all open before any of them starts it."""
    barrier = asyncio.Barrier(n)

    async def one() -> T:
        async with transaction(sessions) as session:
            await session.execute(text("SELECT 1"))  # the connection and transaction are live
            await barrier.wait()
            return await step(session)

    return await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)


async def test_purchases_racing_for_one_wallet_take_no_more_than_it_holds(
    sessions: Sessions,
) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    await post(sessions, credit(customer, rub(100_000)))
    price = rub(30_000)

    async def buy(session: AsyncSession) -> Money:
        return await ledger.debit_wallet(session, wallet, purchase(customer, price))

    results = await together(12, buy, sessions)

    paid = [r for r in results if isinstance(r, Money)]
    refused = [r for r in results if isinstance(r, ledger.InsufficientFunds)]
    assert len(paid) + len(refused) == len(results), results
    assert sorted(r.amount_minor for r in paid) == [10_000, 40_000, 70_000]
    assert all(r.balance == rub(10_000) and r.needed == price for r in refused)
    assert len(refused) == 9
    assert await balance(sessions, wallet) == 10_000
    assert await sum_of_postings(sessions, wallet) == 10_000
    assert await negative_wallets(sessions) == []
    assert await unbalanced(sessions) == []


async def test_purchases_of_different_prices_racing_never_overdraw(sessions: Sessions) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    await post(sessions, credit(customer, rub(1000)))
    queue = [rub(p) for p in (700, 400, 300, 300, 250, 100, 100, 50)]
    n = len(queue)

    async def buy(session: AsyncSession) -> tuple[Money, Money | ledger.InsufficientFunds]:
        price = queue.pop()
        try:
            return price, await ledger.debit_wallet(session, wallet, purchase(customer, price))
        except ledger.InsufficientFunds as refused:
            return price, refused

    results = await together(n, buy, sessions)

    outcomes = [r for r in results if isinstance(r, tuple)]
    assert len(outcomes) == n, results
    taken = sum(price.amount_minor for price, r in outcomes if isinstance(r, Money))
    assert 0 < taken <= 1000
    for price, r in outcomes:
        if isinstance(r, ledger.InsufficientFunds):
            assert r.balance.amount_minor < price.amount_minor  # refused only when really short
    assert await balance(sessions, wallet) == 1000 - taken
    assert await sum_of_postings(sessions, wallet) == 1000 - taken
    assert await negative_wallets(sessions) == []


async def test_one_entry_posted_from_two_sessions_at_once_counts_once(
    sessions: Sessions,
) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    entry = credit(customer, rub(500))

    async def post_it(session: AsyncSession) -> bool:
        return await ledger.post(session, entry)

    results = await together(2, post_it, sessions)

    assert sorted(results, key=str) == [False, True]
    assert await entries_keyed(sessions, entry.key) == 1
    assert await balance(sessions, wallet) == 500
    assert await sum_of_postings(sessions, wallet) == 500


async def backend_pid(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


async def until_waiting_for_a_lock(sessions: Sessions, pid: int) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    async with sessions() as session:
        while asyncio.get_running_loop().time() < deadline:
            waiting = await session.scalar(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid},
            )
            if waiting == "Lock":
                return
            await session.rollback()  # a fresh snapshot of pg_stat_activity next time
    raise AssertionError(f"backend {pid} never waited for a lock")


@pytest.mark.parametrize("first_commits", [True, False], ids=["first commits", "first aborts"])
async def test_the_second_poster_of_a_key_waits_for_the_first_and_follows_its_outcome(
    sessions: Sessions, first_commits: bool
) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    entry = credit(customer, rub(500))

    async with sessions() as first, sessions() as second:
        await first.begin()
        assert await ledger.post(first, entry) is True
        await second.begin()
        pid = await backend_pid(second)
        racing = asyncio.ensure_future(ledger.post(second, entry))
        await until_waiting_for_a_lock(sessions, pid)
        assert not racing.done()
        if first_commits:
            await first.commit()
        else:
            await first.rollback()
        # Whoever is left posts it exactly when the first did not.
        assert await racing is (not first_commits)
        await second.commit()

    assert await entries_keyed(sessions, entry.key) == 1
    assert await balance(sessions, wallet) == 500
    assert await sum_of_postings(sessions, wallet) == 500


# --- the database's own guard --------------------------------------------------------------


@pytest.mark.parametrize("held", [0, 19_899], ids=["no wallet yet", "a wallet a kopeck short"])
async def test_the_database_refuses_a_posting_that_overdraws_a_wallet(
    sessions: Sessions, held: int
) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    if held:
        await post(sessions, credit(customer, rub(held)))
    revenue_before = await revenue_lines(sessions)
    overdraw = purchase(customer, rub(19_900))

    # post itself does not check: the constraint must.
    with pytest.raises(IntegrityError, match="ck_ledger_accounts_wallet_not_negative"):
        await post(sessions, overdraw)

    assert await entries_keyed(sessions, overdraw.key) == 0
    assert await balance(sessions, wallet) == held
    assert await sum_of_postings(sessions, wallet) == held
    assert await revenue_lines(sessions) == revenue_before
    async with sessions() as session:
        row = await session.get(LedgerAccount, wallet.account_id)
    assert (row is None) == (held == 0)


async def test_the_database_refuses_a_negative_wallet_written_by_hand(sessions: Sessions) -> None:
    customer = uuid.uuid4()
    wallet = entries.wallet(customer, "RUB")
    await post(sessions, credit(customer, rub(100)))

    with pytest.raises(IntegrityError, match="ck_ledger_accounts_wallet_not_negative"):
        async with transaction(sessions) as session:
            await session.execute(
                text("UPDATE ledger_accounts SET balance_minor = -1 WHERE account_id = :id"),
                {"id": wallet.account_id},
            )
    with pytest.raises(IntegrityError, match="ck_ledger_accounts_wallet_not_negative"):
        async with transaction(sessions) as session:
            session.add(
                LedgerAccount(
                    account_id=entries.wallet(uuid.uuid4(), "RUB").account_id,
                    kind="wallet",
                    currency="RUB",
                    customer_id=customer,
                    balance_minor=-1,
                )
            )

    assert await balance(sessions, wallet) == 100
    # Only wallets have the floor: the other side of a movement goes negative by design.
    assert await balance(sessions, entries.bonuses("RUB")) < 0
