"""Referral rewards, decided after the fact: a plan's payment by a newcomer who came by a
link sets a due time in its own transaction (``billing.lifecycle.schedule_referral``), and
the reward is decided when it fires.

A newcomer's first payment for a plan may reward the customer whose link they came
by (``billing.domain.referrals``): a share of the payment credited to the referrer's
wallet (a ledger posting from ``bonuses``), or days added to the referrer's subscription
(an order of nothing paid), and optionally days for the newcomer. One reward per newcomer
(the table's key), decided under the referrer's row lock so that the daily cap holds. A
full refund of that payment (``PaymentRefunded``) takes the reward back: the share as far
as the wallet still holds it, the days off the referrer's end.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing import ledger, orders, wallets
from billing.domain import ledger as entries
from billing.domain import referrals as rules
from billing.domain.orders import COMPLIMENTARY, REFERRAL_PROVIDER, amount_of
from billing.domain.referrals import Facts, NoReward, ReferralTerms, Reward
from billing.models import Customer, LedgerAccount, Order, ReferralReward, Subscription
from billing.payments import deliver
from billing.refunds import shortening_follows
from billing.subscriptions import take_days
from billing.texts import say
from chassis.messaging.consumer import MessageContext
from chassis.timers import Timer
from contracts.billing import PaymentRefunded, ReferralRewarded
from contracts.envelope import Event
from contracts.money import Money
from contracts.notifier import SendNotification

log = logging.getLogger(__name__)

_NAMESPACE: Final = uuid.UUID("4d2a8c61-7e3f-4b19-a05d-9c8e1f2b3a75")
_LOOP_DEPTH: Final = 8  # how far up a referrer's own chain a loop is looked for


@dataclass(frozen=True, slots=True)
class Paid:
    """The payment a reward is decided on: a plan order paid by a provider or the wallet."""

    order_id: uuid.UUID
    customer_id: uuid.UUID
    plan_id: str
    amount: Money
    paid_at: datetime


class Referrals:
    def __init__(self, terms: ReferralTerms) -> None:
        self._terms = terms

    async def due(self, session: AsyncSession, timer: Timer, now: datetime) -> Sequence[Event]:
        """The due time the payment's transaction set for a newcomer who came by a link
        (``billing.lifecycle.schedule_referral``): the reward is decided now, once."""
        order = await session.get(Order, uuid.UUID(timer.payload["order_id"]))
        if order is None or order.paid_at is None or order.plan_id is None:
            return ()
        paid = Paid(
            order.order_id, order.customer_id, order.plan_id, amount_of(order), order.paid_at
        )
        return await self.decide(session, paid)

    async def decide(self, session: AsyncSession, event: Paid) -> list[Event]:
        newcomer = await session.get(Customer, event.customer_id)
        if newcomer is None or not newcomer.referral_code:
            return []
        referrer = await session.scalar(
            select(Customer)
            .where(Customer.own_referral_code == newcomer.referral_code)
            .with_for_update()  # one decision at a time per referrer: the cap holds
        )
        if referrer is None:
            return []  # a code typed by hand, or another shop's
        facts = Facts(
            referrer_is_newcomer=referrer.customer_id == newcomer.customer_id
            or referrer.telegram_user_id == newcomer.telegram_user_id,
            in_loop=await _in_loop(session, referrer, newcomer.customer_id),
            first_payment=await _first_payment(session, event),
            rewards_today=await _rewards_since(
                session, referrer.customer_id, event.paid_at - timedelta(days=1)
            ),
        )
        decided = rules.reward(self._terms, facts, event.amount)
        if isinstance(decided, NoReward):
            log.info(
                "no referral reward",
                extra={"order_id": str(event.order_id), "reason": decided.value},
            )
            return []
        recorded = await session.scalar(
            insert(ReferralReward)
            .values(
                newcomer_id=newcomer.customer_id,
                referrer_id=referrer.customer_id,
                order_id=event.order_id,
                kind=decided.kind,
                amount_minor=decided.amount.amount_minor if decided.amount else None,
                currency=decided.amount.currency if decided.amount else None,
                days=decided.days,
                status="granted",
                rewarded_at=event.paid_at,
            )
            .on_conflict_do_nothing()
            .returning(ReferralReward.newcomer_id)
        )
        if recorded is None:
            return []  # this newcomer's reward was decided before
        granted = await self._grant(session, referrer, decided, event)
        if self._terms.newcomer_days:
            granted += await _days_for(
                session, newcomer, self._terms.newcomer_days, event, "newcomer"
            )
        return granted

    async def _grant(
        self, session: AsyncSession, referrer: Customer, reward: Reward, event: Paid
    ) -> list[Event]:
        told: list[Event] = [
            ReferralRewarded(
                referrer_id=referrer.customer_id,
                newcomer_id=event.customer_id,
                order_id=event.order_id,
                kind=reward.kind,
                amount=reward.amount,
                days=reward.days,
                rewarded_at=event.paid_at,
            ),
            _told(referrer.customer_id, event.order_id, "referral.rewarded", reward),
        ]
        if reward.amount is not None:
            entry = entries.bonus(
                key=f"referral:{event.order_id}",
                customer_id=referrer.customer_id,
                amount=reward.amount,
            )
            moves = await ledger.post_moving(session, entry) or []
            return [*told, *(wallets.changed(entry, move, event.paid_at) for move in moves)]
        assert reward.days is not None
        return [*told, *await _days_for(session, referrer, reward.days, event, "referrer")]

    async def refunded(self, event: PaymentRefunded, ctx: MessageContext) -> None:
        """A full refund of a rewarded payment takes its reward back."""
        if not event.full:
            return
        session = ctx.session
        reward = await session.scalar(
            select(ReferralReward)
            .where(ReferralReward.order_id == event.order_id, ReferralReward.status == "granted")
            .with_for_update()
        )
        if reward is None:
            return
        reward.status = "reversed"
        reward.reversed_at = event.refunded_at
        taken: list[Event] = []
        if reward.kind == "share":
            assert reward.amount_minor is not None
            assert reward.currency is not None
            taken_minor, moved = await _take_share(session, reward, event)
            reward.reversed_minor = taken_minor
            taken += moved
            amount = Money(amount_minor=taken_minor, currency=reward.currency)
            days = None
        else:
            assert reward.days is not None
            shortened = await take_days(
                session,
                reward.referrer_id,
                timedelta(days=reward.days),
                order_id=event.order_id,
                refund_id=event.refund_id,
                now=event.refunded_at,
            )
            if shortened is not None:
                taken += await shortening_follows(session, reward.referrer_id, shortened)
            amount, days = None, reward.days
        log.info(
            "referral reward reversed",
            extra={"order_id": str(event.order_id), "referrer_id": str(reward.referrer_id)},
        )
        await ctx.publish_many(
            (
                ReferralRewarded(
                    referrer_id=reward.referrer_id,
                    newcomer_id=reward.newcomer_id,
                    order_id=event.order_id,
                    kind="share" if amount is not None else "days",
                    amount=amount,
                    days=days,
                    reversed=True,
                    rewarded_at=event.refunded_at,
                ),
                *taken,
            )
        )


async def _in_loop(session: AsyncSession, referrer: Customer, newcomer_id: uuid.UUID) -> bool:
    """Whether the referrer came, up their own chain of referrers, by the newcomer."""
    code = referrer.referral_code
    for _ in range(_LOOP_DEPTH):
        if not code:
            return False
        above = await session.scalar(select(Customer).where(Customer.own_referral_code == code))
        if above is None:
            return False
        if above.customer_id == newcomer_id:
            return True
        code = above.referral_code
    return False


async def _first_payment(session: AsyncSession, event: Paid) -> bool:
    earlier = await session.scalar(
        select(
            exists().where(
                Order.customer_id == event.customer_id,
                Order.order_id != event.order_id,
                Order.paid_at.is_not(None),
                Order.paid_at <= event.paid_at,
                Order.provider.not_in(COMPLIMENTARY),
            )
        )
    )
    return not earlier


async def _rewards_since(session: AsyncSession, referrer_id: uuid.UUID, since: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ReferralReward)
        .where(ReferralReward.referrer_id == referrer_id, ReferralReward.rewarded_at > since)
    )
    return int(count or 0)


async def _days_for(
    session: AsyncSession, customer: Customer, days: int, event: Paid, who: str
) -> list[Event]:
    """``days`` added to ``customer``'s subscription (started on the plan paid for, when
    they have none), as an order of nothing paid."""
    subscription = await session.scalar(
        select(Subscription).where(Subscription.customer_id == customer.customer_id)
    )
    plan_id = subscription.plan_id if subscription is not None else event.plan_id
    paid = await session.get(Order, event.order_id)
    assert paid is not None
    order = orders.complimentary(
        uuid.uuid5(_NAMESPACE, f"{who}:{event.order_id}"),
        customer.customer_id,
        provider=REFERRAL_PROVIDER,
        plan_id=plan_id,
        title=say("referral-days-title", customer.language, days=days),
        language=customer.language,
        currency=event.amount.currency,
        grace_hours=paid.grace_hours,
        paid_at=event.paid_at,
        duration_days=days,
        duration_months=0,
        traffic_limit_bytes=subscription.traffic_limit_bytes
        if subscription is not None
        else paid.traffic_limit_bytes,
        traffic_carry_over=paid.traffic_carry_over,
        traffic_reset=paid.traffic_reset,
    )
    session.add(order)
    return list(await deliver(session, order, event.paid_at))


async def _take_share(
    session: AsyncSession, reward: ReferralReward, event: PaymentRefunded
) -> tuple[int, list[Event]]:
    """Take the share back from the referrer's wallet, as far as it holds it now."""
    assert reward.amount_minor is not None
    assert reward.currency is not None
    wallet = entries.wallet(reward.referrer_id, reward.currency)
    balance = await session.scalar(
        select(LedgerAccount.balance_minor)
        .where(LedgerAccount.account_id == wallet.account_id)
        .with_for_update()
    )
    taken = min(reward.amount_minor, int(balance or 0))
    if taken <= 0:
        log.warning(
            "a reversed referral share was already spent: nothing taken back",
            extra={"order_id": str(event.order_id), "referrer_id": str(reward.referrer_id)},
        )
        return 0, []
    entry = entries.bonus_reversed(
        key=f"referral:{event.order_id}",
        customer_id=reward.referrer_id,
        amount=Money(amount_minor=taken, currency=reward.currency),
    )
    moves = await ledger.post_moving(session, entry) or []
    return taken, [wallets.changed(entry, move, event.refunded_at) for move in moves]


def _told(
    customer_id: uuid.UUID, order_id: uuid.UUID, template: str, reward: Reward
) -> SendNotification:
    params: dict[str, str | int] = {"kind": reward.kind}
    if reward.amount is not None:
        params |= {"amount_minor": reward.amount.amount_minor, "currency": reward.amount.currency}
    if reward.days is not None:
        params["days"] = reward.days
    return SendNotification(
        notification_id=uuid.uuid5(_NAMESPACE, f"{template}:{order_id}"),
        customer_id=customer_id,
        template=template,
        params=params,
        channel="telegram",
    )
