"""The e-mail a 54-FZ receipt is sent to: asked once, before the first payment that needs
one, checked, and given to billing.

YooKassa's receipts reach the customer only by e-mail, and Telegram never tells a bot the
user's address, so the customer types it. The question is a conversation kept on the
customer's row, so that whichever replica gets the answer can go on with the checkout.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from contracts.bot import AutopayConsent
from contracts.money import Money

MAX_EMAIL: Final = 254
_EMAIL: Final = re.compile(
    r"^(?P<local>[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64})@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)
_PREFIX: Final = "email"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def valid_email(text: str) -> str | None:
    """The address, its domain lowercased, if ``text`` is one; None otherwise.

    Deliberately plain (a dot-atom local part, a DNS domain with a letters-only top level):
    what receipt systems accept, and what a typo breaks.
    """
    candidate = text.strip()
    found = _EMAIL.fullmatch(candidate)
    if found is None or len(candidate) > MAX_EMAIL or ".." in found["local"]:
        return None
    local = found["local"]
    if local.startswith(".") or local.endswith("."):
        return None
    return f"{local}@{found['domain'].lower()}"


@dataclass(frozen=True, slots=True)
class PendingCheckout:
    """The checkout of a plan or top-up the customer chose, as it waits on their row for
    the e-mail the bot asked for.

    A plan carries the quote whose price was shown (billing refuses it if the price has
    changed by the time the customer answers). A plan paid with automatic renewal carries
    the consent as it was given on the consent screen (the text's version, the amount and
    period shown, the moment of the press): answering the question later changes none of it.
    """

    plan_id: str  # or the top-up's or traffic pack's id
    provider: str
    currency: str
    kind: str = "plan"  # plan | topup | traffic
    autopay: AutopayConsent | None = None
    quote_id: uuid.UUID | None = None

    def encode(self) -> str:
        parts = [_PREFIX, self.plan_id, self.provider, self.currency, self.kind]
        parts.append(self.quote_id.hex if self.quote_id is not None else "")
        if self.autopay is not None:
            consent = self.autopay
            parts += [
                consent.terms_version,
                consent.language,
                str(consent.amount.amount_minor),
                # "30", or "30.1" for a month plan (its nominal days and its months).
                f"{consent.period_days}.{consent.period_months}"
                if consent.period_months
                else str(consent.period_days),
                str((consent.consented_at - _EPOCH) // _MICROSECOND),
            ]
        return ":".join(parts)

    @classmethod
    def decode(cls, awaiting: str | None) -> PendingCheckout | None:
        if not awaiting:
            return None
        parts = awaiting.split(":")
        # Four parts: written before top-ups asked for an e-mail too (always a plan); five:
        # before autopay; ten: with the customer's consent to renew automatically, before
        # quotes; six and eleven: the same with the quote shown (possibly empty).
        if len(parts) not in (4, 5, 6, 10, 11) or parts[0] != _PREFIX:
            return None
        kind = parts[4] if len(parts) >= 5 else "plan"
        if kind not in ("plan", "topup", "traffic"):
            return None
        quote_id = None
        if len(parts) in (6, 11):
            quoted = parts.pop(5)
            try:
                quote_id = uuid.UUID(hex=quoted) if quoted else None
            except ValueError:
                return None
        autopay = None
        if len(parts) == 10:
            version, language, amount_minor, period, consented_us = parts[5:]
            period_days, _, period_months = period.partition(".")
            try:
                autopay = AutopayConsent(
                    terms_version=version,
                    language=language,
                    amount=Money(amount_minor=int(amount_minor), currency=parts[3]),
                    period_days=int(period_days),
                    period_months=int(period_months or 0),
                    consented_at=_EPOCH + int(consented_us) * _MICROSECOND,
                )
            except ValueError:  # pydantic's ValidationError is one too
                return None
        return cls(parts[1], parts[2], parts[3], kind, autopay, quote_id)
