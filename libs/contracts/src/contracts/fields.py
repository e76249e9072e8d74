"""Field types shared by the events of several domains."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, normalised to UTC; naive datetimes are rejected."""

PlanId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$"),
    Field(
        description="Plan identifier chosen by billing, a short slug such as `m1` or `y1-promo`."
    ),
]

ProviderName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$"),
    Field(
        description=(
            "Payment provider, lowercase: `yookassa`, `wata`; later `telegram_stars`, "
            "`cryptobot`. An open set: consumers must handle providers they do not know."
        )
    ),
]

ProviderPaymentId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    Field(description="The provider's id of the payment, as the provider spells it."),
]

HttpUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2048),
]
"""An absolute http(s) URL kept exactly as given (no normalisation, unlike pydantic's URL types)."""

RegionId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$"),
    Field(description="Region slug chosen by provisioning, e.g. `nl` or `de-fra`."),
]

VPN_PROTOCOLS: Final = ("vless", "vmess", "trojan", "shadowsocks")
"""The protocols the panels serve (Marzban's proxy types); the set may grow."""

VpnProtocol = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,15}$"),
    Field(
        description=(
            "A VPN protocol as the panels name it: "
            + ", ".join(f"`{name}`" for name in VPN_PROTOCOLS)
            + "; more may appear."
        )
    ),
]

PROMO_CODE: Final = re.compile(r"[A-Z0-9][A-Z0-9_-]{2,31}")


def promo_code_from(typed: str) -> str | None:
    """What a customer or operator typed as a code, trimmed and capitalized; None when it
    cannot be one."""
    code = typed.strip().upper()
    return code if PROMO_CODE.fullmatch(code) else None


PromoCodeText = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_-]{2,31}$"),
    Field(
        description=(
            "A promo code as billing keys it: 3-32 capital letters, digits, `_` or `-` "
            "(what a customer types is trimmed and capitalized first)."
        ),
        examples=["SPRING20"],
    ),
]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A lowercase machine-readable code: ``expired_on_confirmation``, ``plan_inactive``."""

LanguageTag = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$", max_length=35),
    Field(
        description=(
            "BCP 47 language tag, lowercase language first: `ru`, `en`, `pt-BR`. An open set: "
            "a service that has no texts in it uses the nearest language it has."
        )
    ),
]

ByteCount = Annotated[int, Field(strict=True, ge=0)]
"""A number of bytes; where it is a limit, 0 means unlimited (Marzban's convention)."""

TelegramId = Annotated[int, Field(strict=True)]
"""A Telegram user or chat id: up to 52 significant bits; chats other than private may be < 0."""
