"""Referrals: when a newcomer's payment rewards the customer who invited them, and with
what. Pure, no I/O.

A customer arrives through another's link (``t.me/<bot>?start=<code>``) and is theirs from
registration on. Their first payment for a plan rewards the referrer once, with a share of
it credited to the referrer's wallet (a ledger posting, only in the wallet's currency: no
exchange rate is ever applied) or with days added to the referrer's subscription, and
optionally the newcomer with days. Never for oneself or in a loop, at most
``daily_cap`` rewards per referrer a day, and a refund of the payment takes it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from contracts.money import Money


class NoReward(StrEnum):
    OFF = "off"
    SELF = "self_referral"
    LOOP = "loop"
    CAP = "daily_cap"
    NOT_FIRST = "not_first_payment"
    CURRENCY = "currency"


@dataclass(frozen=True, slots=True)
class ReferralTerms:
    reward: Literal["share", "days", "off"]
    share_percent: int
    days: int
    newcomer_days: int
    daily_cap: int
    wallet_currency: str | None


@dataclass(frozen=True, slots=True)
class Reward:
    kind: Literal["share", "days"]
    amount: Money | None = None
    days: int | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    referrer_is_newcomer: bool
    """The code is the newcomer's own, or their Telegram account's."""
    in_loop: bool
    """The referrer was, up their own chain, invited by the newcomer."""
    first_payment: bool
    rewards_today: int
    """Rewards the referrer got in the last 24 hours."""


def reward(terms: ReferralTerms, facts: Facts, paid: Money) -> Reward | NoReward:
    """What the referrer earns by a newcomer's payment of ``paid``, or why nothing."""
    if terms.reward == "off":
        return NoReward.OFF
    if facts.referrer_is_newcomer:
        return NoReward.SELF
    if facts.in_loop:
        return NoReward.LOOP
    if not facts.first_payment:
        return NoReward.NOT_FIRST
    if facts.rewards_today >= terms.daily_cap:
        return NoReward.CAP
    if terms.reward == "days":
        return Reward("days", days=terms.days)
    if terms.wallet_currency != paid.currency:
        # A share of a payment in stars is no amount of roubles: days instead, if any.
        return Reward("days", days=terms.days) if terms.days else NoReward.CURRENCY
    share = paid.amount_minor * terms.share_percent // 100
    if share < 1:
        return NoReward.CURRENCY
    return Reward("share", amount=Money(amount_minor=share, currency=paid.currency))
