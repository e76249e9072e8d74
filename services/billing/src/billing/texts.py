"""What billing writes into payments (descriptions, invoice titles, receipt lines), from
the Fluent catalogs in ``billing/locales``, in the customer's language. Plain text."""

from __future__ import annotations

from importlib.resources import files
from typing import Final

from chassis.i18n import Catalogs, Value

CATALOGS: Final = Catalogs.load(
    files("billing") / "locales", default_locale="ru", foreign_locale="en", escape=False
)


def say(key: str, language: str | None, /, **values: Value) -> str:
    return CATALOGS.text(key, language, **values)


def localized(names: dict[str, str], language: str | None) -> str:
    """A plan's name in the customer's language (or the nearest one it has)."""
    return CATALOGS.pick(names, language)
