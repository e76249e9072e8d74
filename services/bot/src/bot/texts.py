"""Everything the bot says: the Fluent catalogs in ``bot/locales``, one file per locale.

Texts are Telegram HTML; text values are escaped, ``Html`` values (texts made of other
texts) are not. The languages the bot offers are exactly the shipped catalogs.
"""

from __future__ import annotations

from decimal import Decimal
from importlib.resources import files
from typing import Final

from chassis.i18n import Catalogs, Html, MissingText, Value

__all__ = [
    "CATALOGS",
    "LANGUAGES",
    "Html",
    "gib",
    "language_of",
    "method_name",
    "protocol_name",
    "say",
    "usage_bar",
]

CATALOGS: Final = Catalogs.load(files("bot") / "locales", default_locale="ru", foreign_locale="en")
LANGUAGES: Final[tuple[str, ...]] = CATALOGS.locales
_GIB: Final = Decimal(1024**3)


def language_of(language_code: str | None) -> str:
    """The shipped locale for a Telegram interface language (``uk`` reads Russian, ``de``
    English, none at all the default)."""
    return CATALOGS.negotiate(language_code)


def say(key: str, language: str | None, /, **values: Value) -> str:
    return CATALOGS.text(key, language, **values)


def method_name(provider: str, language: str | None) -> str:
    """A way to pay as customers know it (``method-<provider>``), or its plain name."""
    try:
        return CATALOGS.text(f"method-{provider}", language)
    except MissingText:
        return CATALOGS.text("method-other", language, provider=provider)


def protocol_name(protocol: str, language: str | None) -> str:
    """A VPN protocol as customers know it (``protocol-<name>``), or its plain name."""
    try:
        return CATALOGS.text(f"protocol-{protocol}", language)
    except MissingText:
        return protocol.upper()


def gib(traffic_bytes: int) -> int | Decimal:
    """A byte count in GiB for ``$traffic_gib`` (0, unlimited, must stay an int to match)."""
    amount = (Decimal(traffic_bytes) / _GIB).quantize(Decimal("0.1"))
    return int(amount) if amount == amount.to_integral_value() else amount


_BAR_CELLS: Final = 10


def usage_bar(used_bytes: int, limit_bytes: int) -> tuple[str, int]:
    """A text bar of the share of the allowance used (``▰▰▰▱▱▱▱▱▱▱``) and the whole
    percent, capped at 100 (the panel counts a little past the limit before it cuts off)."""
    percent = min(used_bytes * 100 // limit_bytes, 100) if limit_bytes > 0 else 0
    filled = min(used_bytes * _BAR_CELLS // limit_bytes, _BAR_CELLS) if limit_bytes > 0 else 0
    return "▰" * filled + "▱" * (_BAR_CELLS - filled), percent
