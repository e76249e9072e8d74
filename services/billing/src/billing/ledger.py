"""The ledger's SQL: posting entries, balances, a customer's history, revenue.

An entry is posted in one statement (the entry row, skipped when its idempotency key was
posted before; any account it opens; its postings), then a wallet's balance row moves by
its posting, so that a wallet's balance is the sum of its postings at every commit. A
wallet never goes below zero: :func:`debit_wallet` locks the wallet and checks before
posting, and the database refuses a negative wallet as well.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain.ledger import Account, AccountKind, Entry
from billing.models import LedgerAccount, LedgerEntry, LedgerPosting
from contracts.money import Money

_POST = text(
    """
    WITH entry AS (
        INSERT INTO ledger_entries (entry_id, idempotency_key, kind, customer_id, order_id)
        VALUES (:entry_id, :key, :kind, :customer_id, :order_id)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING entry_id
    ), lines AS (
        SELECT line->>'account_id' AS account_id, line->>'kind' AS kind,
               line->>'currency' AS currency, (line->>'customer_id')::uuid AS customer_id,
               (line->>'amount')::bigint AS amount, ordinality
        FROM jsonb_array_elements(:lines) WITH ORDINALITY AS lines_in(line, ordinality)
    ), opened AS (
        INSERT INTO ledger_accounts (account_id, kind, currency, customer_id, balance_minor)
        SELECT DISTINCT account_id, kind, currency, customer_id, 0
        FROM lines WHERE EXISTS (SELECT 1 FROM entry)
        ON CONFLICT (account_id) DO NOTHING
    ), postings AS (
        INSERT INTO ledger_postings (entry_id, account_id, amount_minor, currency)
        SELECT entry.entry_id, lines.account_id, lines.amount, lines.currency
        FROM entry, lines ORDER BY lines.ordinality
    )
    SELECT count(*) FROM entry
    """
).bindparams(bindparam("lines", type_=JSONB))
# Only wallets keep their balance in the row (their check needs it, and a wallet is one
# customer's): the provider, revenue and refund accounts every purchase touches are
# summed from their postings when read, so purchases never queue on a shared row.
_MOVE_WALLET = text(
    "UPDATE ledger_accounts SET balance_minor = balance_minor + :amount "
    "WHERE account_id = :account_id RETURNING balance_minor"
)


class InsufficientFunds(Exception):
    def __init__(self, balance: Money, needed: Money) -> None:
        super().__init__(f"the wallet holds {balance}, {needed} is needed")
        self.balance = balance
        self.needed = needed


@dataclass(frozen=True, slots=True)
class WalletMove:
    """What posting an entry did to a wallet: the posting and the balance after it."""

    account: Account
    amount_minor: int
    balance_minor: int


async def post(session: AsyncSession, entry: Entry) -> bool:
    """Write ``entry``; False when an entry with its key was posted before (nothing changes)."""
    return await post_moving(session, entry) is not None


async def post_moving(session: AsyncSession, entry: Entry) -> list[WalletMove] | None:
    """Write ``entry`` and say how it moved wallets; None when it was posted before."""
    lines: list[dict[str, Any]] = [
        {
            "account_id": posting.account.account_id,
            "kind": posting.account.kind.value,
            "currency": posting.currency,
            "customer_id": str(posting.account.customer_id)
            if posting.account.customer_id
            else None,
            "amount": posting.amount_minor,
        }
        for posting in entry.postings
    ]
    result = await session.execute(
        _POST,
        {
            "entry_id": uuid.uuid4(),
            "key": entry.key,
            "kind": entry.kind,
            "customer_id": entry.customer_id,
            "order_id": entry.order_id,
            "lines": lines,
        },
    )
    if not result.scalar_one():
        return None
    moves = []
    for posting in entry.postings:
        if posting.account.kind is AccountKind.WALLET:
            balance = await session.scalar(
                _MOVE_WALLET,
                {"account_id": posting.account.account_id, "amount": posting.amount_minor},
            )
            moves.append(WalletMove(posting.account, posting.amount_minor, int(balance)))
    return moves


async def debit_wallet(session: AsyncSession, wallet: Account, entry: Entry) -> Money:
    """Post an entry that takes money from ``wallet``, if the wallet holds enough.

    The wallet's row is locked first, so two purchases by one customer at once queue here
    and the second sees what the first left. Returns the balance after; raises
    :class:`InsufficientFunds` (nothing posted) when it is short.
    """
    taken = -sum(p.amount_minor for p in entry.postings if p.account == wallet)
    balance = await session.scalar(
        select(LedgerAccount.balance_minor)
        .where(LedgerAccount.account_id == wallet.account_id)
        .with_for_update()
    )
    held = Money(amount_minor=balance or 0, currency=wallet.currency)
    if held.amount_minor < taken:
        raise InsufficientFunds(held, Money(amount_minor=taken, currency=wallet.currency))
    posted = await post(session, entry)
    after = held.amount_minor - taken if posted else held.amount_minor
    return Money(amount_minor=after, currency=wallet.currency)


async def balance_of(session: AsyncSession, account: Account) -> int:
    """The account's balance in minor units, signed (a clearing account is negative)."""
    if account.kind is AccountKind.WALLET:
        return (await wallet_balance(session, account)).amount_minor
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount_minor), 0)).where(
            LedgerPosting.account_id == account.account_id
        )
    )
    return int(total or 0)


async def wallet_balance(session: AsyncSession, wallet: Account) -> Money:
    balance = await session.scalar(
        select(LedgerAccount.balance_minor).where(LedgerAccount.account_id == wallet.account_id)
    )
    return Money(amount_minor=balance or 0, currency=wallet.currency)


@dataclass(frozen=True, slots=True)
class Movement:
    """One line of a wallet's history."""

    at: datetime
    kind: str
    amount_minor: int
    """Signed: positive credits the wallet."""
    currency: str
    order_id: uuid.UUID | None


async def wallet_history(
    session: AsyncSession, wallet: Account, *, limit: int = 20
) -> list[Movement]:
    rows = await session.execute(
        select(
            LedgerEntry.created_at,
            LedgerEntry.kind,
            LedgerPosting.amount_minor,
            LedgerEntry.order_id,
        )
        .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
        .where(LedgerPosting.account_id == wallet.account_id)
        .order_by(LedgerPosting.posting_id.desc())
        .limit(limit)
    )
    return [
        Movement(at, kind, amount, wallet.currency, order_id) for at, kind, amount, order_id in rows
    ]


@dataclass(frozen=True, slots=True)
class RevenueLine:
    source: str
    currency: str
    earned_minor: int
    refunded_minor: int

    @property
    def net_minor(self) -> int:
        return self.earned_minor - self.refunded_minor


async def revenue(session: AsyncSession) -> list[RevenueLine]:
    """Earned and refunded per source (provider, or the wallet) and currency."""
    rows = await session.execute(
        text(
            """
            SELECT split_part(a.account_id, ':', 2) AS source, a.currency,
                   coalesce(sum(p.amount_minor) FILTER (WHERE a.kind = 'revenue'), 0) AS earned,
                   -coalesce(sum(p.amount_minor) FILTER (WHERE a.kind = 'refunds'), 0)
                       AS refunded
            FROM ledger_accounts a JOIN ledger_postings p ON p.account_id = a.account_id
            WHERE a.kind IN ('revenue', 'refunds')
            GROUP BY 1, 2 ORDER BY 1, 2
            """
        )
    )
    return [
        RevenueLine(source, currency, int(earned), int(refunded))
        for source, currency, earned, refunded in rows
    ]


async def unbalanced(session: AsyncSession) -> list[str]:
    """Consistency check: entries whose postings do not sum to zero per currency, and
    wallets whose balance is not the sum of their postings. Empty when all is well."""
    entries = await session.scalars(
        text(
            "SELECT DISTINCT entry_id::text FROM ledger_postings GROUP BY entry_id, currency "
            "HAVING sum(amount_minor) <> 0"
        )
    )
    accounts = await session.scalars(
        text(
            """
            SELECT a.account_id FROM ledger_accounts a
            LEFT JOIN ledger_postings p ON p.account_id = a.account_id
            WHERE a.kind = 'wallet'
            GROUP BY a.account_id, a.balance_minor
            HAVING a.balance_minor <> coalesce(sum(p.amount_minor), 0)
            """
        )
    )
    return [f"entry {e}" for e in entries] + [f"account {a}" for a in accounts]
