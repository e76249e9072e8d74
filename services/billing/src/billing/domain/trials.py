"""The free trial: who may have one. Pure, no I/O.

A trial is a short period (``TrialTerms``: days and traffic) of nothing paid, once per
Telegram account, never for a customer who has paid or has a subscription, and at most
``per_hour`` of them start in any hour for everyone (bot farms make accounts by the
hundred). It runs through the same lifecycle as a paid period, without a grace.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from billing.domain.orders import TRIAL_PROVIDER

TRIAL_PLAN: Final = "trial"
"""The ``plan_id`` of a trial's order and subscription: no plan of the catalog."""
PROVIDER: Final = TRIAL_PROVIDER


class Refusal(StrEnum):
    OFF = "trial_off"
    USED = "trial_used"
    PAID = "trial_not_for_payers"
    SUBSCRIBED = "trial_has_subscription"
    BUSY = "trial_busy"


@dataclass(frozen=True, slots=True)
class TrialTerms:
    days: int
    traffic_limit_bytes: int
    """0: unlimited."""
    per_hour: int

    @property
    def offered(self) -> bool:
        return self.days > 0


@dataclass(frozen=True, slots=True)
class Applicant:
    had_trial: bool
    """This Telegram account (or customer) had one already."""
    has_paid: bool
    has_subscription: bool
    started_last_hour: int
    """Trials started by anyone in the last hour."""


def refusal(terms: TrialTerms, applicant: Applicant) -> Refusal | None:
    """Why ``applicant`` gets no trial now; None when they get one."""
    if not terms.offered:
        return Refusal.OFF
    if applicant.had_trial:
        return Refusal.USED
    if applicant.has_paid:
        return Refusal.PAID
    if applicant.has_subscription:
        return Refusal.SUBSCRIBED
    if applicant.started_last_hour >= terms.per_hour:
        return Refusal.BUSY
    return None
