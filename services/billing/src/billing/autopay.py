"""Autopay's SQL and the changes other parts of billing make to it.

A checkout whose customer consented records the consent (the log YooKassa and 376-FZ ask
for). When its payment succeeds with a saved method, the customer's autopay is on. Every
later paid plan order moves the period the next charge extends; a declined autopay charge
is recorded; a refund moves the period back or, ending the subscription, turns autopay
off. These write facts only (``Autopay.change``): the worker (``billing.autopay_worker``),
which has the schedule, plans the reminder and the charge and tells the customer.

Turning autopay off happens here, at once, under the row's lock: the worker takes the same
lock to decide a charge, so a charge not yet sent when the customer turned it off is never
sent (``turned_off``).
"""

from __future__ import annotations

import enum
import logging
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import bindparam, case, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.domain.autopay import OffReason
from billing.models import Autopay, AutopayConsentRow, Order
from billing.providers.base import SavedMethod
from chassis.messaging.consumer import MessageContext
from contracts.billing import AutopayChanged
from contracts.bot import AutopayConsent, AutopayTurnedOff
from contracts.envelope import Event
from contracts.money import Money
from contracts.notifier import SendNotification

log = logging.getLogger(__name__)

_NAMESPACE: Final = uuid.UUID("3e7b9d14-6a2f-4c85-b0d3-91f5e8a2c647")


class Change(enum.StrEnum):
    """What happened to an autopay that the worker has yet to plan for."""

    ENABLED = "enabled"
    """A payment saved its method: plan the first charge and confirm it to the customer."""
    MOVED = "moved"
    """The subscription's end moved (a paid order, a partial refund): plan again."""
    DECLINED = "declined"
    """The charge in flight was declined (``decline_reason``)."""


def consent_id_for(order_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"consent:{order_id}")


async def record_consent(session: AsyncSession, order: Order, consent: AutopayConsent) -> None:
    """Log what the customer agreed to; the order's payment will save its method."""
    await session.flush()  # the order's row exists before the log names it
    row = AutopayConsentRow(
        consent_id=consent_id_for(order.order_id),
        customer_id=order.customer_id,
        order_id=order.order_id,
        terms_version=consent.terms_version,
        language=consent.language,
        amount_minor=consent.amount.amount_minor,
        currency=consent.amount.currency,
        period_days=consent.period_days,
        period_months=consent.period_months,
        consented_at=consent.consented_at,
    )
    session.add(row)
    order.autopay_consent_id = row.consent_id


async def lock(session: AsyncSession, customer_id: uuid.UUID) -> Autopay | None:
    row: Autopay | None = await session.get(
        Autopay, customer_id, with_for_update=True, populate_existing=True
    )
    return row


# A paid plan order moves the period the next charge extends: one statement, run for every
# paid plan order (most customers have no autopay, and it then touches nothing).
_MOVED = (
    update(Autopay)
    .where(Autopay.customer_id == bindparam("paying_customer"), Autopay.enabled)
    .values(
        period_end=bindparam("new_period_end"),
        # The first plan still owes the customer its confirmation.
        change=case((Autopay.change == Change.ENABLED.value, Change.ENABLED.value), else_="moved"),
        decline_reason=None,
        charge_order_id=case(
            (Autopay.charge_order_id == bindparam("paid_order"), None),
            else_=Autopay.charge_order_id,
        ),
        charge_due_at=None,
        declines=0,
        unavailable_attempts=0,
        updated_at=bindparam("moved_at"),
    )
)


async def paid(
    session: AsyncSession, order: Order, saved: SavedMethod | None, period_end: datetime
) -> tuple[Event, ...]:
    """A plan order was paid and the subscription now ends at ``period_end``."""
    now = datetime.now(UTC)
    if order.autopay_consent_id is None:
        await session.execute(
            _MOVED,
            {
                "paying_customer": order.customer_id,
                "new_period_end": period_end,
                "paid_order": order.order_id,
                "moved_at": now,
            },
        )
        return ()
    if saved is None:
        # Paid with a method the provider does not keep (SBP, for one): nothing to renew with.
        log.info(
            "a consenting payment saved no method; autopay stays off",
            extra={"order_id": str(order.order_id)},
        )
        return (
            notification(
                order.customer_id,
                "autopay.stopped",
                f"not-saved:{order.order_id}",
                why="method_not_saved",
                expires_at=period_end.isoformat(),
            ),
        )
    await _enable(session, order, saved, period_end, now)
    return ()


async def _enable(
    session: AsyncSession, order: Order, saved: SavedMethod, period_end: datetime, now: datetime
) -> None:
    assert order.plan_id is not None
    assert order.subscription_id is not None
    row = await lock(session, order.customer_id)
    if row is None:
        row = Autopay(customer_id=order.customer_id, revision=0)
        session.add(row)
    elif row.consent_id is not None and row.consent_id != order.autopay_consent_id:
        await _withdraw(session, row.consent_id, "replaced", now)
    row.subscription_id = order.subscription_id
    row.provider = order.provider
    row.method_id = saved.method_id
    row.method_title = saved.title[:128] or None
    row.consent_id = order.autopay_consent_id
    row.plan_id = order.plan_id
    # Renewals charge the plan's price: a promo code's discount was for this payment only.
    row.amount_minor = (
        order.amount_minor if order.list_amount_minor is None else order.list_amount_minor
    )
    row.currency = order.currency
    row.period_days = order.duration_days
    row.period_months = order.duration_months
    row.receipt_email = order.receipt_email
    row.language = order.language
    row.enabled = True
    row.disabled_reason = None
    row.disabled_at = None
    row.period_end = period_end
    row.notice_due_at = None
    row.charge_due_at = None
    row.charge_order_id = None
    row.change = Change.ENABLED.value
    row.decline_reason = None
    row.declines = 0
    row.unavailable_attempts = 0
    row.updated_at = now


_DECLINED = (
    update(Autopay)
    .where(
        Autopay.customer_id == bindparam("declined_customer"),
        Autopay.charge_order_id == bindparam("declined_order"),
        Autopay.enabled,
    )
    .values(
        change=Change.DECLINED.value,
        decline_reason=bindparam("reason"),
        charge_order_id=None,
        updated_at=bindparam("declined_at"),
    )
)


async def declined(session: AsyncSession, order: Order) -> None:
    """An autopay charge was canceled by the provider: the worker decides what follows."""
    if not order.autopay_charge:
        return
    await session.execute(
        _DECLINED,
        {
            "declined_customer": order.customer_id,
            "declined_order": order.order_id,
            "reason": (order.cancellation_reason or "unknown")[:64],
            "declined_at": datetime.now(UTC),
        },
    )


async def refunded(
    session: AsyncSession, customer_id: uuid.UUID, period_end: datetime, *, ended: bool
) -> tuple[Event, ...]:
    """A refund moved the subscription's end back, or ended it (then autopay stops)."""
    now = datetime.now(UTC)
    row = await lock(session, customer_id)
    if row is None or not row.enabled:
        return ()
    if ended:
        return turn_off(row, OffReason.SUBSCRIPTION_REFUNDED, now, tell=True)
    row.period_end = period_end
    row.charge_due_at = None if row.charge_order_id is None else row.charge_due_at
    row.change = Change.MOVED.value
    row.updated_at = now
    return ()


async def turned_off(event: AutopayTurnedOff, ctx: MessageContext) -> None:
    """The customer turned autopay off in the bot: from this commit on, nothing is charged."""
    session = ctx.session
    row = await lock(session, event.customer_id)
    if row is None or not row.enabled:
        return
    if row.charge_order_id is not None and row.charge_due_at is None:
        # Sent to the provider before this arrived: it completes, and nothing follows it.
        log.warning(
            "autopay turned off while a charge is with the provider",
            extra={"customer_id": str(row.customer_id), "order_id": str(row.charge_order_id)},
        )
    now = datetime.now(UTC)
    await ctx.publish_many(list(turn_off(row, OffReason.CUSTOMER, now, tell=False)))
    if row.consent_id is not None:
        await _withdraw(session, row.consent_id, OffReason.CUSTOMER.value, now)


def turn_off(row: Autopay, reason: OffReason, now: datetime, *, tell: bool) -> tuple[Event, ...]:
    """Autopay off: the method is forgotten and nothing is due. ``tell``: the customer did
    not do it themselves, so they are told why."""
    row.enabled = False
    row.disabled_reason = reason.value
    row.disabled_at = now
    row.method_id = None
    row.notice_due_at = None
    row.charge_due_at = None
    row.charge_order_id = None
    row.change = None
    row.decline_reason = None
    row.lease_until = None
    row.updated_at = now
    events: list[Event] = [snapshot(row, now)]
    if tell:
        events.append(
            notification(
                row.customer_id,
                "autopay.stopped",
                f"stopped:{row.revision}",
                why=reason.value,
                expires_at=row.period_end.isoformat(),
            )
        )
    return tuple(events)


async def _withdraw(session: AsyncSession, consent_id: uuid.UUID, by: str, now: datetime) -> None:
    consent = await session.get(AutopayConsentRow, consent_id)
    if consent is not None and consent.withdrawn_at is None:
        consent.withdrawn_at = now
        consent.withdrawn_by = by


def amount_of(row: Autopay) -> Money:
    return Money(amount_minor=row.amount_minor, currency=row.currency)


def snapshot(row: Autopay, now: datetime) -> AutopayChanged:
    """The autopay as it is now, one revision higher."""
    row.revision += 1
    if row.enabled:
        return AutopayChanged(
            customer_id=row.customer_id,
            enabled=True,
            revision=row.revision,
            provider=row.provider,
            method_title=row.method_title,
            amount=amount_of(row),
            next_charge_at=row.charge_due_at or now,
            period_end=row.period_end,
            changed_at=now,
        )
    return AutopayChanged(
        customer_id=row.customer_id,
        enabled=False,
        revision=row.revision,
        provider=row.provider,
        method_title=row.method_title,
        period_end=row.period_end,
        reason=row.disabled_reason,
        changed_at=now,
    )


def notification(
    customer_id: uuid.UUID, template: str, once_per: str, **params: Any
) -> SendNotification:
    """A message to the customer, sent once per ``once_per`` (of this customer)."""
    return SendNotification(
        notification_id=uuid.uuid5(_NAMESPACE, f"{template}:{customer_id}:{once_per}"),
        customer_id=customer_id,
        template=template,
        params=params,
        channel="telegram",
    )
