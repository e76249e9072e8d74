"""The promo code a customer holds for their next purchase, as billing accepted it.

Billing decides (``PromoCodeChecked``) and tells the customer; the bot keeps an accepted
code (``customer_promos``) to show its prices with the plans and to name it in the
checkout. The code is dropped when an order takes its use (billing's answer names it) or
when billing refuses it at checkout; a customer may enter another at any time, which
replaces it once accepted.
"""

from __future__ import annotations

import logging
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import CustomerPromo
from chassis.messaging.consumer import MessageContext
from contracts.billing import PromoCodeChecked, PromoOffer

log = logging.getLogger(__name__)

AWAITING: str = "promo"
"""``customers.awaiting`` while the bot waits for the customer to type a code."""


async def record_check(event: PromoCodeChecked, ctx: MessageContext) -> None:
    """Keep an accepted code (replacing one held before); nothing else is kept."""
    if event.outcome != "accepted" or event.offer is None:
        return
    values = {
        "customer_id": event.customer_id,
        "code": event.code,
        "offer": event.offer.model_dump(mode="json"),
        "accepted_at": event.checked_at,
    }
    statement = insert(CustomerPromo).values(**values)
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=[CustomerPromo.customer_id],
            set_={key: statement.excluded[key] for key in ("code", "offer", "accepted_at")},
            # Of two acceptances redelivered out of order, the later one stays.
            where=CustomerPromo.accepted_at <= statement.excluded.accepted_at,
        )
    )


async def held(session: AsyncSession, customer_id: UUID) -> PromoOffer | None:
    row = await session.get(CustomerPromo, customer_id)
    if row is None:
        return None
    try:
        return PromoOffer.model_validate(row.offer)
    except ValueError:  # written by an older bot: forget it rather than fail the screen
        log.warning("a held promo code no longer reads; dropped", extra={"code": row.code})
        await session.delete(row)
        return None


async def drop(session: AsyncSession, customer_id: UUID, code: str) -> None:
    """The code's use was taken (or refused): it is no longer held."""
    await session.execute(
        delete(CustomerPromo).where(
            CustomerPromo.customer_id == customer_id, CustomerPromo.code == code
        )
    )


async def drop_any(session: AsyncSession, customer_id: UUID) -> None:
    """Billing refused the held code at checkout: it is no longer held."""
    await session.execute(delete(CustomerPromo).where(CustomerPromo.customer_id == customer_id))
