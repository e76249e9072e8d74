"""The customer's wallet in the bot: the balance and history billing reports, the screen
that shows them, and the top-ups on sale."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Wallet, WalletMovement
from bot.texts import Html, say
from chassis.messaging.consumer import MessageContext
from contracts.billing import WalletChanged
from contracts.money import Money

HISTORY_LINES = 5


async def record_change(event: WalletChanged, ctx: MessageContext) -> None:
    """Keep the latest balance (a replayed older change must not win) and the movement."""
    inserted = await ctx.session.scalar(
        insert(WalletMovement)
        .values(
            entry_key=event.entry_key,
            customer_id=event.customer_id,
            kind=event.kind,
            credited=event.credited,
            amount_minor=event.amount.amount_minor,
            currency=event.amount.currency,
            balance_minor=event.balance.amount_minor,
            order_id=event.order_id,
            changed_at=event.changed_at,
        )
        .on_conflict_do_nothing(index_elements=[WalletMovement.entry_key])
        .returning(WalletMovement.entry_key)
    )
    if inserted is None:
        return
    statement = insert(Wallet).values(
        customer_id=event.customer_id,
        currency=event.balance.currency,
        balance_minor=event.balance.amount_minor,
        changed_at=event.changed_at,
    )
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=[Wallet.customer_id],
            set_={
                "currency": statement.excluded.currency,
                "balance_minor": statement.excluded.balance_minor,
                "changed_at": statement.excluded.changed_at,
            },
            where=Wallet.changed_at <= statement.excluded.changed_at,
        )
    )


async def wallet_view(
    session: AsyncSession, customer_id: object, currency: str, language: str
) -> str:
    wallet = await session.get(Wallet, customer_id)
    balance = Money(
        amount_minor=wallet.balance_minor if wallet else 0,
        currency=wallet.currency if wallet else currency,
    )
    movements = (
        await session.scalars(
            select(WalletMovement)
            .where(WalletMovement.customer_id == customer_id)
            .order_by(WalletMovement.changed_at.desc())
            .limit(HISTORY_LINES)
        )
    ).all()
    lines = [
        say(
            "wallet-line",
            language,
            sign="+" if movement.credited else "−",
            amount=Money(amount_minor=movement.amount_minor, currency=movement.currency),
            kind=movement.kind,
            at=movement.changed_at,
        )
        for movement in movements
    ]
    history = (
        say("wallet-history", language, lines=Html("\n".join(lines)))
        if lines
        else say("wallet-no-history", language)
    )
    return say("wallet-title", language, balance=balance, history=Html(history))
