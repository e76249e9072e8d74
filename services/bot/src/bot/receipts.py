"""The e-mail a 54-FZ receipt is sent to: asked once, before the first payment that needs
one, checked, and given to billing.

YooKassa's receipts reach the customer only by e-mail, and Telegram never tells a bot the
user's address, so the customer types it. The question is a conversation kept on the
customer's row, so that whichever replica gets the answer can go on with the checkout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

MAX_EMAIL: Final = 254
_EMAIL: Final = re.compile(
    r"^(?P<local>[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64})@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)
_PREFIX: Final = "email"


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
    """The checkout the customer chose before the bot asked for their e-mail."""

    plan_id: str  # or the top-up's id
    provider: str
    currency: str
    kind: str = "plan"  # plan | topup

    def encode(self) -> str:
        return f"{_PREFIX}:{self.plan_id}:{self.provider}:{self.currency}:{self.kind}"

    @classmethod
    def decode(cls, awaiting: str | None) -> PendingCheckout | None:
        if not awaiting:
            return None
        parts = awaiting.split(":")
        # Four parts: written before top-ups asked for an e-mail too (always a plan).
        if len(parts) not in (4, 5) or parts[0] != _PREFIX:
            return None
        kind = parts[4] if len(parts) == 5 else "plan"
        if kind not in ("plan", "topup"):
            return None
        return cls(parts[1], parts[2], parts[3], kind)
