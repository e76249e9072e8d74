"""What customers read: the Fluent catalogs in ``notifier/locales``, one file per locale.

A template is a message of the catalogs (``access.granted`` is ``access-granted``). Its
parameters arrive as stored strings and numbers; the few that stand for something richer
are turned into it here, so that the catalogs format them: every ``<name>_at`` holding an
ISO 8601 string is the datetime ``$<name>`` (``expires_at`` is ``$expires``, ``charge_at``
``$charge``), ``traffic_limit_bytes`` is ``$traffic_gib`` (``total_bytes``, ``used_bytes`` and
``left_bytes`` are ``$total_gib``, ``$used_gib``, ``$left_gib``), and ``amount_minor`` with
``currency`` is the money ``$amount``, ``credit_hours`` is ``$credit_days``; ``reason``,
a provider's cancellation code, is told in words, and an empty ``method_title`` is "your
saved payment method". The parameters stay as given too. Every text value is escaped for
Telegram HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from importlib.resources import files
from typing import Final

from chassis.i18n import Catalogs, Html, MissingText, Value
from contracts.bot import catalog_callback, choose_plan_callback
from contracts.money import Money

Params = Mapping[str, str | int]

CATALOGS: Final = Catalogs.load(
    files("notifier") / "locales", default_locale="ru", foreign_locale="en"
)
_GIB: Final = Decimal(1024**3)
_AT: Final = "_at"


OPTIONAL: Final = frozenset(
    {
        "subscription.expiring",
        "subscription.expired",
        "subscription.suspended",
        "trial.expiring",
        "trial.ended",
    }
)
"""Templates a customer can turn off in the bot's settings. Payment, access and autopay
messages are not among them (autopay's notice before a charge is required by law)."""


class UnknownTemplate(ValueError):
    pass


def message_id(template: str) -> str:
    return template.replace(".", "-").replace("_", "-")


def render(template: str, language: str, params: Params) -> str:
    """The message text; raises ``UnknownTemplate``, or ``TextError`` for a missing value."""
    values = values_of(params)
    if "reason" in params:
        values["reason"] = Html(reason_text(str(params["reason"]), language))
    if params.get("method_title") == "":  # the provider gave the saved method no name
        values["method_title"] = Html(CATALOGS.text("method-unnamed", language))
    try:
        return CATALOGS.text(message_id(template), language, **values)
    except MissingText:
        raise UnknownTemplate(template) from None


def reason_text(code: str, language: str) -> str:
    """A provider's cancellation code in words (``reason-insufficient-funds``), or a generic
    one for a code the catalogs do not know yet."""
    try:
        return CATALOGS.text(f"reason-{code.replace('_', '-')}", language)
    except MissingText:
        return CATALOGS.text("reason-other", language)


def values_of(params: Params) -> dict[str, Value]:
    values: dict[str, Value] = dict(params)
    for name, value in params.items():
        moment = name.removesuffix(_AT)
        if moment and moment != name and isinstance(value, str):
            values[moment] = datetime.fromisoformat(value)
    if "period_days" in params:  # notices written before month plans name no months
        values.setdefault("period_months", 0)
    # Traffic in GiB: the limit, a limit with traffic packs added, what was used and is left.
    for name, gib_name in _TRAFFIC.items():
        if name in params:
            values[gib_name] = _gib(int(params[name]))
    if "credit_hours" in params:  # an upgrade's credit, told in days
        days = (Decimal(int(params["credit_hours"])) / 24).quantize(Decimal("0.1"))
        values["credit_days"] = int(days) if days == days.to_integral_value() else days
    if "amount_minor" in params and "currency" in params:
        values["amount"] = Money(
            amount_minor=int(params["amount_minor"]), currency=str(params["currency"])
        )
    return values


_TRAFFIC: Final = {
    "traffic_limit_bytes": "traffic_gib",
    "total_bytes": "total_gib",
    "used_bytes": "used_gib",
    "left_bytes": "left_gib",
}


def _gib(traffic_bytes: int) -> int | Decimal:
    """To one decimal; a whole number stays an int (``0``, unlimited, must match ``[0]``)."""
    amount = (Decimal(traffic_bytes) / _GIB).quantize(Decimal("0.1"))
    return int(amount) if amount == amount.to_integral_value() else amount


def reply_markup(language: str, params: Params) -> dict[str, object] | None:
    """The message's buttons: "Renew" where the message names the plan to renew
    (``renew_plan_id``), which opens its checkout in the bot in one tap; "Choose a plan"
    where it asks for one (``catalog_button``), which opens the bot's plans."""
    plan_id = params.get("renew_plan_id")
    if params.get("catalog_button"):
        choose = {
            "text": CATALOGS.text("button-catalog", language),
            "callback_data": catalog_callback(),
        }
        return {"inline_keyboard": [[choose]]}
    if not isinstance(plan_id, str) or not plan_id:
        return None
    button = {
        "text": CATALOGS.text("button-renew", language),
        "callback_data": choose_plan_callback(plan_id),
    }
    return {"inline_keyboard": [[button]]}
