"""Inline keyboards and the callback data their buttons carry (always under 64 bytes)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.catalog import plan_title
from bot.texts import LANGUAGES, method_name, say
from contracts.billing import PaymentMethodOffer, PlanOffer, TopUpOffer
from contracts.money import Money


class Menu(CallbackData, prefix="m"):
    action: str  # home | buy | subscription | wallet | language


class ChoosePlan(CallbackData, prefix="plan"):
    plan_id: str


class Pay(CallbackData, prefix="pay"):
    plan_id: str
    provider: str
    currency: str = ""  # the price the button showed; empty on buttons from older versions


class TopUp(CallbackData, prefix="top"):
    topup_id: str


class PayTopUp(CallbackData, prefix="paytop"):
    topup_id: str
    provider: str
    currency: str


class ChooseLanguage(CallbackData, prefix="lang"):
    language: str


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def main_menu(language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(say("menu-buy", language), Menu(action="buy"))],
            [_button(say("menu-subscription", language), Menu(action="subscription"))],
            [_button(say("menu-wallet", language), Menu(action="wallet"))],
            [_button(say("menu-language", language), Menu(action="language"))],
        ]
    )


def back(language: str) -> list[InlineKeyboardButton]:
    return [_button(say("menu-back", language), Menu(action="home"))]


def catalog(plans: list[PlanOffer], language: str) -> InlineKeyboardMarkup:
    rows = [
        [
            _button(
                say(
                    "catalog-plan-button",
                    language,
                    title=plan_title(plan, language),
                    price=plan.prices[0],
                ),
                ChoosePlan(plan_id=plan.plan_id),
            )
        ]
        for plan in plans
        if plan.active
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, back(language)])


def pay(
    plan: PlanOffer, offers: list[tuple[PaymentMethodOffer, Money]], language: str
) -> InlineKeyboardMarkup:
    """One button per way to pay the plan, each with the price in its own currency."""
    rows = [
        [
            _button(
                say(
                    "pay-button",
                    language,
                    method=method_name(method.provider, language),
                    price=price,
                ),
                Pay(plan_id=plan.plan_id, provider=method.provider, currency=price.currency),
            )
        ]
        for method, price in offers
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), Menu(action="buy"))]]
    )


def wallet(topups: list[TopUpOffer], language: str) -> InlineKeyboardMarkup:
    row = [
        _button(say("topup-button", language, credit=topup.credit), TopUp(topup_id=topup.topup_id))
        for topup in topups
    ]
    return InlineKeyboardMarkup(inline_keyboard=[row, back(language)] if row else [back(language)])


def pay_topup(
    topup: TopUpOffer, offers: list[tuple[PaymentMethodOffer, Money]], language: str
) -> InlineKeyboardMarkup:
    """One button per way to pay the top-up; never the wallet itself."""
    rows = [
        [
            _button(
                say(
                    "pay-button",
                    language,
                    method=method_name(method.provider, language),
                    price=price,
                ),
                PayTopUp(
                    topup_id=topup.topup_id, provider=method.provider, currency=price.currency
                ),
            )
        ]
        for method, price in offers
        if method.provider != "wallet"
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), Menu(action="wallet"))]]
    )


def payment_link(url: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=say("checkout-pay-button", language), url=url)]]
    )


def languages(language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(say("language-name", code), ChooseLanguage(language=code))
                for code in LANGUAGES
            ],
            back(language),
        ]
    )
