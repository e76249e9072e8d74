"""What customers read: every message in Russian and English. Pure, no I/O.

Messages are Telegram HTML; every parameter is escaped, so nothing a customer or a panel
put into a value can break the markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import Final

Params = Mapping[str, str | int]

GIB: Final = 1024**3
_MONTHS_EN: Final = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]

_SETUP = {
    "ru": (
        "Как подключиться:\n"
        "1. Установите приложение: Hiddify или v2rayNG (Android), Streisand или Happ (iOS), "
        "Hiddify (Windows, macOS).\n"
        "2. Скопируйте ссылку выше и добавьте её в приложение как подписку.\n"
        "3. Нажмите «Подключиться»."
    ),
    "en": (
        "How to connect:\n"
        "1. Install an app: Hiddify or v2rayNG (Android), Streisand or Happ (iOS), "
        "Hiddify (Windows, macOS).\n"
        "2. Copy the link above and add it to the app as a subscription.\n"
        "3. Tap Connect."
    ),
}

TEMPLATES: Final[dict[str, dict[str, str]]] = {
    "access.granted": {
        "ru": (
            "✅ <b>Доступ к VPN готов</b>\n\n"
            "Действует до: <b>{expires}</b>\nТрафик: <b>{traffic}</b>\n\n"
            "Ваша ссылка-подписка:\n<code>{subscription_url}</code>\n\n{setup}"
        ),
        "en": (
            "✅ <b>Your VPN access is ready</b>\n\n"
            "Valid until: <b>{expires}</b>\nTraffic: <b>{traffic}</b>\n\n"
            "Your subscription link:\n<code>{subscription_url}</code>\n\n{setup}"
        ),
    },
    "access.delayed": {
        "ru": (
            "⏳ Оплата получена, но сервер VPN сейчас не отвечает. Мы продолжаем попытки "
            "и пришлём доступ, как только он будет готов. Ничего делать не нужно."
        ),
        "en": (
            "⏳ Payment received, but the VPN server is not answering right now. We keep "
            "trying and will send your access as soon as it is ready. No action needed."
        ),
    },
    "access.failed": {
        "ru": (
            "⚠️ Оплата получена, но выдать доступ автоматически не удалось. Мы уже разбираемся "
            "и напишем вам. Деньги не потеряются."
        ),
        "en": (
            "⚠️ Payment received, but access could not be set up automatically. We are on it "
            "and will write to you. Your money is safe."
        ),
    },
    "payment.canceled": {
        "ru": (
            "❌ Платёж на {amount} не прошёл ({reason}). Доступ не оплачен. "
            "Попробуйте ещё раз через /buy."
        ),
        "en": (
            "❌ The payment of {amount} did not go through ({reason}). Nothing was charged "
            "for access. Try again with /buy."
        ),
    },
}

_CANCELLATION_REASONS: Final = {
    "expired_on_confirmation": ("время на оплату истекло", "the payment window expired"),
    "insufficient_funds": ("недостаточно средств", "insufficient funds"),
    "canceled_by_merchant": ("отменён магазином", "canceled by the shop"),
    "card_expired": ("срок действия карты истёк", "the card has expired"),
    "3d_secure_failed": ("не пройдена проверка 3-D Secure", "3-D Secure failed"),
    "call_issuer": ("банк отклонил платёж", "declined by the bank"),
    "general_decline": ("платёж отклонён", "the payment was declined"),
    "fraud_suspected": ("платёж заблокирован", "the payment was blocked"),
}


class UnknownTemplate(ValueError):
    pass


def render(template: str, language: str, params: Params) -> str:
    """The message text; raises ``UnknownTemplate`` or ``KeyError`` for a missing parameter."""
    texts = TEMPLATES.get(template)
    if texts is None:
        raise UnknownTemplate(template)
    lang = language if language in texts else "ru"
    values = {name: html.escape(str(value)) for name, value in params.items()}
    values |= _derived(template, lang, params)
    return texts[lang].format(**values)


def _derived(template: str, lang: str, params: Params) -> dict[str, str]:
    values: dict[str, str] = {"setup": _SETUP[lang]}
    if template == "access.granted":
        values["expires"] = format_date(datetime.fromisoformat(str(params["expires_at"])), lang)
        values["traffic"] = format_traffic(int(params["traffic_limit_bytes"]), lang)
    if template == "payment.canceled":
        ru, en = _CANCELLATION_REASONS.get(
            str(params.get("reason", "")), ("платёж отменён", "the payment was canceled")
        )
        values["reason"] = ru if lang == "ru" else en
    return values


def format_date(moment: datetime, language: str) -> str:
    if language == "ru":
        return moment.strftime("%d.%m.%Y")
    return f"{moment.day} {_MONTHS_EN[moment.month - 1]} {moment.year}"


def format_traffic(limit_bytes: int, language: str) -> str:
    if limit_bytes == 0:
        return "без ограничений" if language == "ru" else "unlimited"
    gib = limit_bytes / GIB
    amount = f"{gib:.0f}" if gib == int(gib) else f"{gib:.1f}"
    return f"{amount} ГБ" if language == "ru" else f"{amount} GB"
