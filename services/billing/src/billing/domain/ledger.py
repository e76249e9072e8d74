"""The double-entry ledger's rules: accounts, entries that sum to zero, and the entry each
money movement makes. Pure, no I/O; ``billing.ledger`` writes them.

Every movement of money is one entry of two or more postings whose amounts sum to zero in
each currency, named by an idempotency key taken from its cause (a provider's payment id,
a refund id, an order id): posting the same cause twice is a no-op. An account's balance
is the sum of its postings, so:

- ``wallet:<customer>:<CUR>``: what a customer has with us; never below zero.
- ``clearing:<provider>:<CUR>``: negative by what the provider collected for us and not
  yet paid back (refunds make it grow again).
- ``revenue:<source>:<CUR>``: what was earned through ``source`` (a provider, or
  ``wallet`` for plans paid from balances); positive.
- ``refunds:<source>:<CUR>``: what was given back, negative: net revenue is revenue plus
  refunds.
- ``bonuses:<CUR>``: negative by the credit given away (referral rewards, goodwill).
- ``exchange:<CUR>``: the position of sales across currencies (wallet credit in roubles
  sold for Stars), one account per currency, so that each currency still sums to zero.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

from contracts.money import Money


class AccountKind(enum.StrEnum):
    WALLET = "wallet"
    CLEARING = "clearing"
    REVENUE = "revenue"
    REFUNDS = "refunds"
    BONUSES = "bonuses"
    EXCHANGE = "exchange"


WALLET_SOURCE = "wallet"
"""The ``source`` of revenue and refunds for plans paid from a wallet."""


@dataclass(frozen=True, slots=True)
class Account:
    kind: AccountKind
    currency: str
    owner: str | None = None
    """The customer (wallets) or the provider/source (clearing, revenue, refunds)."""

    @property
    def account_id(self) -> str:
        parts = [self.kind.value, *([self.owner] if self.owner else []), self.currency]
        return ":".join(parts)

    @property
    def customer_id(self) -> UUID | None:
        return UUID(self.owner) if self.kind is AccountKind.WALLET and self.owner else None


def wallet(customer_id: UUID, currency: str) -> Account:
    return Account(AccountKind.WALLET, currency, str(customer_id))


def clearing(provider: str, currency: str) -> Account:
    return Account(AccountKind.CLEARING, currency, provider)


def revenue(source: str, currency: str) -> Account:
    return Account(AccountKind.REVENUE, currency, source)


def refunds(source: str, currency: str) -> Account:
    return Account(AccountKind.REFUNDS, currency, source)


def bonuses(currency: str) -> Account:
    return Account(AccountKind.BONUSES, currency)


def exchange(currency: str) -> Account:
    return Account(AccountKind.EXCHANGE, currency)


@dataclass(frozen=True, slots=True)
class Posting:
    account: Account
    amount_minor: int

    @property
    def currency(self) -> str:
        return self.account.currency


class UnbalancedEntry(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Entry:
    """One movement of money; immutable once posted."""

    key: str
    kind: str
    postings: tuple[Posting, ...]
    customer_id: UUID | None = None
    order_id: UUID | None = None

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise UnbalancedEntry(f"{self.key}: an entry moves money between two accounts")
        totals: dict[str, int] = defaultdict(int)
        for posting in self.postings:
            if posting.amount_minor == 0:
                raise UnbalancedEntry(f"{self.key}: a posting of nothing")
            totals[posting.currency] += posting.amount_minor
        unbalanced = {currency: total for currency, total in totals.items() if total}
        if unbalanced:
            raise UnbalancedEntry(f"{self.key}: postings do not sum to zero: {unbalanced}")


def _move(source: Account, target: Account, amount: Money) -> tuple[Posting, Posting]:
    if source.currency != amount.currency or target.currency != amount.currency:
        raise UnbalancedEntry(f"{amount.currency} cannot move between {source} and {target}")
    return Posting(source, -amount.amount_minor), Posting(target, amount.amount_minor)


def plan_paid_by_provider(
    *, provider: str, provider_payment_id: str, order_id: UUID, customer_id: UUID, amount: Money
) -> Entry:
    """A customer paid a plan through a provider: earned at once."""
    return Entry(
        key=f"payment:{provider}:{provider_payment_id}",
        kind="plan_payment",
        postings=_move(
            clearing(provider, amount.currency), revenue(provider, amount.currency), amount
        ),
        customer_id=customer_id,
        order_id=order_id,
    )


def topup_paid_by_provider(
    *,
    provider: str,
    provider_payment_id: str,
    order_id: UUID,
    customer_id: UUID,
    paid: Money,
    credit: Money,
) -> Entry:
    """A customer bought wallet credit: owed to them until they spend it.

    Paid in another currency than the wallet's (roubles of credit for Stars), the two sides
    meet in the exchange accounts, so that each currency still sums to zero.
    """
    target = wallet(customer_id, credit.currency)
    postings: tuple[Posting, ...]
    if paid.currency == credit.currency:
        if paid != credit:
            raise UnbalancedEntry(f"a top-up of {credit} cannot be paid with {paid}")
        postings = _move(clearing(provider, paid.currency), target, paid)
    else:
        postings = (
            *_move(clearing(provider, paid.currency), exchange(paid.currency), paid),
            *_move(exchange(credit.currency), target, credit),
        )
    return Entry(
        key=f"payment:{provider}:{provider_payment_id}",
        kind="topup",
        postings=postings,
        customer_id=customer_id,
        order_id=order_id,
    )


def plan_paid_from_wallet(*, order_id: UUID, customer_id: UUID, amount: Money) -> Entry:
    return Entry(
        key=f"wallet-payment:{order_id}",
        kind="plan_payment",
        postings=_move(
            wallet(customer_id, amount.currency), revenue(WALLET_SOURCE, amount.currency), amount
        ),
        customer_id=customer_id,
        order_id=order_id,
    )


def plan_refunded(
    *, source: str, refund_key: str, order_id: UUID, customer_id: UUID, amount: Money
) -> Entry:
    """Money for a plan given back: through the provider, or onto the wallet it came from."""
    target = (
        wallet(customer_id, amount.currency)
        if source == WALLET_SOURCE
        else clearing(source, amount.currency)
    )
    return Entry(
        key=f"refund:{refund_key}",
        kind="refund",
        postings=_move(refunds(source, amount.currency), target, amount),
        customer_id=customer_id,
        order_id=order_id,
    )


def topup_refunded(
    *,
    provider: str,
    refund_key: str,
    order_id: UUID,
    customer_id: UUID,
    amount: Money,
    credit: Money | None = None,
    written_off: Money | None = None,
) -> Entry:
    """Unspent wallet credit given back through the provider it was bought with.

    ``amount`` is what the provider gives back, ``credit`` what leaves the wallet for it
    (the same, unless the credit was bought in another currency: then the two meet in the
    exchange accounts, as when it was bought). ``written_off`` is the part of ``credit``
    the wallet no longer held when a provider reported a refund billing had not asked for
    (the customer spent it meanwhile): that part is booked as credit given away.
    """
    credit = credit or amount
    lost = written_off.amount_minor if written_off else 0
    if written_off is not None and written_off.currency != credit.currency:
        raise UnbalancedEntry(f"{written_off} cannot be written off {credit.currency} credit")
    if not 0 <= lost <= credit.amount_minor:
        raise UnbalancedEntry(f"{written_off} is not part of {credit}")
    taken: list[Posting] = []
    if lost < credit.amount_minor or not lost:
        taken.append(Posting(wallet(customer_id, credit.currency), lost - credit.amount_minor))
    if lost:
        taken.append(Posting(bonuses(credit.currency), -lost))
    back = clearing(provider, amount.currency)
    postings: tuple[Posting, ...]
    if amount.currency == credit.currency:
        if amount != credit:
            raise UnbalancedEntry(f"a refund of {amount} cannot take {credit} of credit")
        postings = (*taken, Posting(back, amount.amount_minor))
    else:
        postings = (
            *taken,
            Posting(exchange(credit.currency), credit.amount_minor),
            *_move(exchange(amount.currency), back, amount),
        )
    return Entry(
        key=f"refund:{refund_key}",
        kind="refund",
        postings=postings,
        customer_id=customer_id,
        order_id=order_id,
    )


def bonus_reversed(*, key: str, customer_id: UUID, amount: Money) -> Entry:
    """Credit given away and taken back (a referral reward whose payment was refunded)."""
    return Entry(
        key=f"bonus-reversed:{key}",
        kind="bonus_reversed",
        postings=_move(wallet(customer_id, amount.currency), bonuses(amount.currency), amount),
        customer_id=customer_id,
    )


def bonus(*, key: str, customer_id: UUID, amount: Money) -> Entry:
    """Credit given away (a referral reward, goodwill)."""
    return Entry(
        key=f"bonus:{key}",
        kind="bonus",
        postings=_move(bonuses(amount.currency), wallet(customer_id, amount.currency), amount),
        customer_id=customer_id,
    )
