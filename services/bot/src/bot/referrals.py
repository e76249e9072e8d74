"""The referral screen: the customer's link, who joined by it, who paid, what it earned.

Who joined is the bot's own knowledge (customers who came by the link); what their
payments earned is billing's (``ReferralRewarded``), mirrored here, a reversal marking
the reward taken back.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Customer, ReferralEarning
from chassis.messaging.consumer import MessageContext
from contracts.billing import ReferralRewarded
from contracts.bot import referral_code_for
from contracts.money import Money


async def record_reward(event: ReferralRewarded, ctx: MessageContext) -> None:
    values = {
        "newcomer_id": event.newcomer_id,
        "referrer_id": event.referrer_id,
        "kind": event.kind,
        "amount_minor": event.amount.amount_minor if event.amount else None,
        "currency": event.amount.currency if event.amount else None,
        "days": event.days,
        "reversed": event.reversed,
        "rewarded_at": event.rewarded_at,
    }
    statement = insert(ReferralEarning).values(**values)
    if event.reversed:
        # Taken back: marked so; the amount stays what was earned.
        await ctx.session.execute(
            statement.on_conflict_do_update(
                index_elements=[ReferralEarning.newcomer_id], set_={"reversed": True}
            )
        )
        return
    await ctx.session.execute(statement.on_conflict_do_nothing())


@dataclass(frozen=True, slots=True)
class Standing:
    code: str
    joined: int
    paid: int
    earned: tuple[Money, ...]
    days: int


async def standing(session: AsyncSession, customer_id: UUID) -> Standing:
    code = referral_code_for(customer_id)
    joined = await session.scalar(
        select(func.count()).select_from(Customer).where(Customer.referral_code == code)
    )
    kept = (
        await session.execute(
            select(
                ReferralEarning.currency, ReferralEarning.amount_minor, ReferralEarning.days
            ).where(ReferralEarning.referrer_id == customer_id, ~ReferralEarning.reversed)
        )
    ).all()
    earned: dict[str, int] = {}
    for currency, amount, _ in kept:
        if currency is not None and amount is not None:
            earned[currency] = earned.get(currency, 0) + amount
    return Standing(
        code=code,
        joined=int(joined or 0),
        paid=len(kept),
        earned=tuple(Money(amount_minor=v, currency=c) for c, v in sorted(earned.items())),
        days=sum(days or 0 for _, _, days in kept),
    )
