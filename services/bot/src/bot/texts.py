"""Everything the bot says, in Russian and English. Pure, no I/O.

Texts are Telegram HTML; values are escaped by ``say``.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Final, Literal

from contracts.money import Money

Language = Literal["ru", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("ru", "en")
GIB: Final = 1024**3

# Telegram clients report the interface language; these are the ones whose speakers are
# best served in Russian when the product speaks Russian and English.
_RUSSIAN_SPEAKING: Final = ("ru", "uk", "be", "kk", "uz", "ky", "tg", "hy", "az", "ka")

TEXTS: Final[dict[str, dict[Language, str]]] = {
    "welcome": {
        "ru": (
            "Привет, {name}! 👋\n\nЗдесь можно купить быстрый VPN: выберите тариф, оплатите, "
            "и доступ придёт сюда же через пару секунд."
        ),
        "en": (
            "Hi, {name}! 👋\n\nBuy a fast VPN here: pick a plan, pay, and your access arrives "
            "in this chat within seconds."
        ),
    },
    "menu.buy": {"ru": "🛒 Купить VPN", "en": "🛒 Buy VPN"},
    "menu.subscription": {"ru": "📱 Моя подписка", "en": "📱 My subscription"},
    "menu.language": {"ru": "🌐 Language", "en": "🌐 Язык"},
    "menu.back": {"ru": "« Назад", "en": "« Back"},
    "catalog.title": {"ru": "Выберите тариф:", "en": "Choose a plan:"},
    "catalog.empty": {
        "ru": "Тарифы ещё загружаются. Попробуйте через минуту.",
        "en": "Plans are still loading. Please try again in a minute.",
    },
    "catalog.plan_button": {"ru": "{title} — {price}", "en": "{title} — {price}"},
    "plan.details": {
        "ru": "<b>{title}</b>\n\nСрок: {days} дн.\nТрафик: {traffic}\nЦена: <b>{price}</b>",
        "en": "<b>{title}</b>\n\nPeriod: {days} days\nTraffic: {traffic}\nPrice: <b>{price}</b>",
    },
    "plan.unavailable": {
        "ru": "Этот тариф больше не продаётся. Выберите другой:",
        "en": "This plan is no longer on sale. Choose another one:",
    },
    "pay.yookassa": {"ru": "💳 Оплатить картой или СБП", "en": "💳 Pay by card or SBP"},
    "checkout.preparing": {
        "ru": "⏳ Готовим ссылку на оплату…",
        "en": "⏳ Preparing your payment link…",
    },
    "checkout.slow": {
        "ru": "⏳ Платёжная система отвечает дольше обычного. Ссылка появится в этом сообщении.",
        "en": "⏳ The payment provider is slower than usual. The link will appear in this message.",
    },
    "checkout.ready": {
        "ru": (
            "Заказ: <b>{title}</b>\nК оплате: <b>{price}</b>\n\n"
            "Нажмите кнопку ниже, чтобы оплатить. Доступ придёт сюда сразу после оплаты."
        ),
        "en": (
            "Order: <b>{title}</b>\nTo pay: <b>{price}</b>\n\n"
            "Tap the button below to pay. Your access arrives here right after payment."
        ),
    },
    "checkout.pay_button": {"ru": "Перейти к оплате", "en": "Go to payment"},
    "checkout.failed": {
        "ru": "😔 Не получилось создать платёж. Попробуйте ещё раз чуть позже.",
        "en": "😔 Could not create the payment. Please try again a little later.",
    },
    "subscription.none": {
        "ru": "У вас пока нет подписки.",
        "en": "You have no subscription yet.",
    },
    "subscription.active": {
        "ru": (
            "📱 <b>Ваша подписка</b>\n\nСтатус: {status}\nДействует до: <b>{expires}</b>\n"
            "Трафик: {traffic}\n\n{link}"
        ),
        "en": (
            "📱 <b>Your subscription</b>\n\nStatus: {status}\nValid until: <b>{expires}</b>\n"
            "Traffic: {traffic}\n\n{link}"
        ),
    },
    "subscription.status.active": {"ru": "✅ активна", "en": "✅ active"},
    "subscription.status.provisioning": {
        "ru": "⏳ оплачена, доступ настраивается",
        "en": "⏳ paid, access is being set up",
    },
    "subscription.status.expired": {"ru": "⛔ истекла", "en": "⛔ expired"},
    "subscription.link": {
        "ru": "Ссылка-подписка:\n<code>{url}</code>",
        "en": "Subscription link:\n<code>{url}</code>",
    },
    "subscription.no_link": {
        "ru": "Ссылка появится здесь, как только доступ будет готов.",
        "en": "The link will appear here as soon as access is ready.",
    },
    "language.choose": {"ru": "Выберите язык:", "en": "Choose your language:"},
    "language.changed": {"ru": "Готово, говорим по-русски.", "en": "Done, English it is."},
    "unknown": {
        "ru": "Я не понял сообщение. Вот что я умею:",
        "en": "I did not understand that. Here is what I can do:",
    },
    "error": {
        "ru": "Что-то пошло не так. Попробуйте ещё раз.",
        "en": "Something went wrong. Please try again.",
    },
    "private_only": {
        "ru": "Я работаю только в личных сообщениях: напишите мне напрямую.",
        "en": "I only work in private messages: please write to me directly.",
    },
    "help": {
        "ru": (
            "<b>Что я умею</b>\n\n"
            "/buy — выбрать тариф и оплатить VPN\n"
            "/subscription — ваша подписка, срок и ссылка для подключения\n"
            "/language — сменить язык\n"
            "/start — главное меню\n\n"
            "После оплаты ссылка-подписка придёт сюда. Добавьте её в приложение "
            "(v2rayNG, Hiddify, Streisand, v2rayN) — и VPN готов."
        ),
        "en": (
            "<b>What I can do</b>\n\n"
            "/buy — choose a plan and pay for VPN\n"
            "/subscription — your subscription, its end date and connection link\n"
            "/language — change the language\n"
            "/start — main menu\n\n"
            "After payment your subscription link arrives here. Add it to a client app "
            "(v2rayNG, Hiddify, Streisand, v2rayN) and the VPN is ready."
        ),
    },
    "command.start": {"ru": "Главное меню", "en": "Main menu"},
    "command.buy": {"ru": "Купить VPN", "en": "Buy VPN"},
    "command.subscription": {"ru": "Моя подписка", "en": "My subscription"},
    "command.language": {"ru": "Сменить язык", "en": "Change language"},
    "command.help": {"ru": "Помощь", "en": "Help"},
}

LANGUAGE_NAMES: Final[dict[Language, str]] = {"ru": "🇷🇺 Русский", "en": "🇬🇧 English"}


def language_of(language_code: str | None) -> Language:
    """The product language for a Telegram interface language; Russian unless clearly not."""
    if not language_code:
        return "ru"
    return "ru" if language_code.lower().split("-")[0] in _RUSSIAN_SPEAKING else "en"


def say(key: str, language: str, **values: object) -> str:
    lang: Language = "en" if language == "en" else "ru"
    escaped = {name: html.escape(str(value)) for name, value in values.items()}
    return TEXTS[key][lang].format(**escaped)


def say_html(key: str, language: str, **values: str) -> str:
    """Like ``say`` for values that are already HTML made from other texts."""
    lang: Language = "en" if language == "en" else "ru"
    return TEXTS[key][lang].format(**values)


def format_price(price: Money) -> str:
    if price.currency == "RUB":
        amount = price.to_decimal()
        whole = amount == amount.to_integral_value()
        return f"{amount:.0f} ₽" if whole else f"{amount:.2f} ₽"
    return str(price)


def format_traffic(limit_bytes: int, language: str) -> str:
    if limit_bytes == 0:
        return "без ограничений" if language == "ru" else "unlimited"
    gib = limit_bytes / GIB
    amount = f"{gib:.0f}" if gib == int(gib) else f"{gib:.1f}"
    return f"{amount} ГБ" if language == "ru" else f"{amount} GB"


def format_date(moment: datetime, language: str) -> str:
    if language == "ru":
        return moment.strftime("%d.%m.%Y")
    return moment.strftime("%d %b %Y").lstrip("0")
