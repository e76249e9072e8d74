"""Autopay in the bot: the consent asked before a payment that saves its method, the mirror
of what billing reports for "My subscription", and the customer turning it off.

Billing does the charging. The bot asks first (YooKassa's rules and 376-FZ want the amount,
the period and how to cancel shown before the method is saved, and the consent kept with
the version of the text shown), and lets the customer withdraw at any time, effective at
once: the mirror is off in the press's own transaction, and billing hears of it through
``AutopayTurnedOff``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from sqlalchemy import text, update

from bot.models import CustomerAutopay
from bot.texts import method_name, say
from chassis.messaging.consumer import MessageContext
from contracts.billing import AutopayChanged, PlanOffer
from contracts.bot import AutopayConsent, AutopayTurnedOff
from contracts.money import Money

TERMS_MESSAGE: Final = "autopay-consent"
TERMS_VERSION: Final = "autopay-consent/2"
"""The version of the consent text (the ``autopay-consent`` message) that every consent
names. Bump it with every change of the text in any locale, and record the new digests
below (no colons: it travels in ``bot.receipts.PendingCheckout``)."""
TERMS_DIGESTS: Final[Mapping[str, str]] = {
    "ru": "37d589cd752d78ca2b503db50fb24eda8a1a3ced9d6f64d9b53991a30e2b94d3",
    "en": "abde0436a7fee27049a7f628f235ceb68c7c49ed4088f6283c92dfcedea57b76",
}
"""sha256 of the ``autopay-consent`` message as each shipped locale words it at
``TERMS_VERSION``: the texts' unit test fails when one changes and these do not."""


def consent(plan: PlanOffer, price: Money, language: str) -> AutopayConsent:
    """What the customer agrees to by pressing "renew automatically" on the consent screen:
    the plan's price as the screen showed it, every period of the plan."""
    return AutopayConsent(
        terms_version=TERMS_VERSION,
        language=language,
        amount=price,
        period_days=plan.duration_days,
        period_months=plan.duration_months,
        consented_at=datetime.now(UTC),
    )


# Built once, like the other mirrors' upserts.
_CHANGED = text(
    """
    INSERT INTO customer_autopays AS a
        (customer_id, enabled, revision, provider, method_title, amount_minor, currency,
         next_charge_at, period_end, reason, changed_at)
    VALUES (:customer_id, :enabled, :revision, :provider, :method_title, :amount_minor,
            :currency, :next_charge_at, :period_end, :reason, :changed_at)
    ON CONFLICT (customer_id) DO UPDATE
    SET enabled = EXCLUDED.enabled, revision = EXCLUDED.revision,
        provider = EXCLUDED.provider, method_title = EXCLUDED.method_title,
        amount_minor = EXCLUDED.amount_minor, currency = EXCLUDED.currency,
        next_charge_at = EXCLUDED.next_charge_at, period_end = EXCLUDED.period_end,
        reason = EXCLUDED.reason, changed_at = EXCLUDED.changed_at
    -- Only a newer state; and an "on" billing recorded before the customer's press here
    -- (a reschedule crossing the press) does not undo it: billing's "off" follows.
    WHERE a.revision < EXCLUDED.revision
      AND NOT (EXCLUDED.enabled AND a.turned_off_at IS NOT NULL
               AND EXCLUDED.changed_at <= a.turned_off_at)
    """
)


async def record_change(event: AutopayChanged, ctx: MessageContext) -> None:
    await ctx.session.execute(
        _CHANGED,
        {
            "customer_id": event.customer_id,
            "enabled": event.enabled,
            "revision": event.revision,
            "provider": event.provider,
            "method_title": event.method_title,
            "amount_minor": event.amount.amount_minor if event.amount else None,
            "currency": event.amount.currency if event.amount else None,
            "next_charge_at": event.next_charge_at,
            "period_end": event.period_end,
            "reason": event.reason,
            "changed_at": event.changed_at,
        },
    )


async def turn_off(ctx: MessageContext, customer_id: UUID) -> None:
    """Off now, in the mirror and for billing; already off, nothing is sent again."""
    now = datetime.now(UTC)
    turned_off = await ctx.session.scalar(
        update(CustomerAutopay)
        .where(CustomerAutopay.customer_id == customer_id, CustomerAutopay.enabled.is_(True))
        .values(enabled=False, reason="customer", next_charge_at=None, turned_off_at=now)
        .returning(CustomerAutopay.customer_id)
    )
    if turned_off is not None:
        await ctx.publish(AutopayTurnedOff(customer_id=customer_id, turned_off_at=now))


def autopay_line(autopay: CustomerAutopay, language: str) -> str:
    """The autopay line of "My subscription": the next charge, or that it is off."""
    if (
        not autopay.enabled
        or autopay.next_charge_at is None
        or autopay.amount_minor is None
        or autopay.currency is None
    ):
        return say("subscription-autopay-off", language)
    return say(
        "subscription-autopay-on",
        language,
        amount=Money(amount_minor=autopay.amount_minor, currency=autopay.currency),
        method=autopay.method_title or method_name(autopay.provider, language),
        charge=autopay.next_charge_at,
    )
