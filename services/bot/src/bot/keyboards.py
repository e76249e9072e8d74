"""Inline keyboards and the callback data their buttons carry (always under 64 bytes)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.catalog import plan_title
from bot.regions import region_name
from bot.texts import LANGUAGES, gib, method_name, protocol_name, say
from contracts.billing import (
    PaymentMethodOffer,
    PlanOffer,
    PromoOffer,
    TopUpOffer,
    TrafficPackOffer,
)
from contracts.money import Money
from contracts.provisioning import RegionOffer


class Menu(CallbackData, prefix="m"):
    action: (
        str  # home | buy | trial | subscription | wallet | promo | referrals | language | settings
    )


class Reminders(CallbackData, prefix="rem"):
    """The settings screen's switch: reminders about the subscription's end on or off."""

    on: bool


class ChoosePlan(CallbackData, prefix="plan"):
    plan_id: str


class ChooseRegion(CallbackData, prefix="rg"):
    """The region a plan is bought for (where the customer is served, and its price)."""

    plan_id: str
    region: str


class ChooseProtocol(CallbackData, prefix="proto"):
    """The protocol a plan is bought with, among those of the region chosen."""

    plan_id: str
    protocol: str


class ChangeAccess(CallbackData, prefix="ca"):
    """From "My subscription": be served from ``region`` (the current one for a protocol
    change), with ``protocol`` (empty: the one the customer has)."""

    region: str
    protocol: str = ""


class Pay(CallbackData, prefix="pq"):
    """Pay a plan once with this method, at the price the button showed."""

    plan_id: str
    provider: str
    currency: str
    amount_minor: int  # a price changed since the button was made is shown again first


class LegacyPay(CallbackData, prefix="pay"):
    """A pay button from before prices were quotes (no amount), still on older messages."""

    plan_id: str
    provider: str
    currency: str = ""  # empty on buttons older still: whichever price the method shows


class AutopayTerms(CallbackData, prefix="apt"):
    """Renew a plan automatically with this method: shows what the customer agrees to."""

    plan_id: str
    provider: str
    currency: str


class Autopay(CallbackData, prefix="ap"):
    """The customer agreed, on the consent screen, to the terms for exactly this price."""

    plan_id: str
    provider: str
    currency: str
    amount_minor: int  # the price the screen showed: a changed price asks again


class TurnOffAutopay(CallbackData, prefix="apoff"):
    """The button of "My subscription" that turns autopay off."""


class TopUp(CallbackData, prefix="top"):
    topup_id: str


class PayTopUp(CallbackData, prefix="paytop"):
    topup_id: str
    provider: str
    currency: str


class ChooseTraffic(CallbackData, prefix="trf"):
    pack_id: str


class PayTraffic(CallbackData, prefix="paytrf"):
    pack_id: str
    provider: str
    currency: str
    amount_minor: int  # a price changed since the button was made is shown again first


class ChooseLanguage(CallbackData, prefix="lang"):
    language: str


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def main_menu(language: str, *, trial: bool = False) -> InlineKeyboardMarkup:
    """The menu; with ``trial``, for a customer with no subscription, the free trial too."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(say("menu-buy", language), Menu(action="buy"))],
            *([[_button(say("menu-trial", language), Menu(action="trial"))]] if trial else []),
            [_button(say("menu-subscription", language), Menu(action="subscription"))],
            [_button(say("menu-wallet", language), Menu(action="wallet"))],
            [_button(say("menu-promo", language), Menu(action="promo"))],
            [_button(say("menu-referrals", language), Menu(action="referrals"))],
            [_button(say("menu-language", language), Menu(action="language"))],
            [_button(say("menu-settings", language), Menu(action="settings"))],
        ]
    )


def settings(language: str, *, reminders: bool) -> InlineKeyboardMarkup:
    switch = "settings-reminders-turn-off" if reminders else "settings-reminders-turn-on"
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(say(switch, language), Reminders(on=not reminders))],
            back(language),
        ]
    )


def back_markup(language: str) -> InlineKeyboardMarkup:
    """Only the way back to the menu (under a question the customer answers by typing)."""
    return InlineKeyboardMarkup(inline_keyboard=[back(language)])


def back(language: str) -> list[InlineKeyboardButton]:
    return [_button(say("menu-back", language), Menu(action="home"))]


def catalog(plans: list[tuple[PlanOffer, Money]], language: str) -> InlineKeyboardMarkup:
    """A button per plan on sale, with the price it starts from for this customer."""
    rows = [
        [
            _button(
                say("catalog-plan-button", language, title=plan_title(plan, language), price=price),
                ChoosePlan(plan_id=plan.plan_id),
            )
        ]
        for plan, price in plans
        if plan.active
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, back(language)])


def regions(
    plan_id: str, offers: tuple[RegionOffer, ...], language: str, *, default: str | None
) -> InlineKeyboardMarkup:
    """A button per region, the default marked; one that cannot take anyone now says so
    (pressed, it offers its alternatives)."""
    rows = []
    for offer in offers:
        name = region_name(offer, language)
        if offer.region == default:
            name = say("region-default-button", language, name=name)
        if not offer.available:
            name = say("region-unavailable-button", language, name=name)
        rows.append([_button(name, ChooseRegion(plan_id=plan_id, region=offer.region))])
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), Menu(action="buy"))]]
    )


def protocols(plan_id: str, offered: tuple[str, ...], language: str) -> InlineKeyboardMarkup:
    rows = [
        [_button(protocol_name(name, language), ChooseProtocol(plan_id=plan_id, protocol=name))]
        for name in offered
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), ChoosePlan(plan_id=plan_id))]]
    )


def change_regions(offers: tuple[RegionOffer, ...], language: str) -> InlineKeyboardMarkup:
    rows = [
        [_button(region_name(offer, language), ChangeAccess(region=offer.region))]
        for offer in offers
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), Menu(action="subscription"))]]
    )


def change_protocols(region: str, offered: tuple[str, ...], language: str) -> InlineKeyboardMarkup:
    rows = [
        [_button(protocol_name(name, language), ChangeAccess(region=region, protocol=name))]
        for name in offered
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), Menu(action="subscription"))]]
    )


def pay(
    plan: PlanOffer,
    offers: list[tuple[PaymentMethodOffer, Money]],
    language: str,
    promo: PromoOffer | None = None,
) -> InlineKeyboardMarkup:
    """One button per way to pay the plan once, each with the price in its own currency
    (with the held promo code's discount); and, under a method that can renew it, one to
    renew automatically (terms first: renewals are at the plan's price)."""
    rows: list[list[InlineKeyboardButton]] = []
    for method, price in offers:
        name = method_name(method.provider, language)
        once = promo.price(price) if promo is not None and promo.applies_to(plan.plan_id) else price
        rows.append(
            [
                _button(
                    say("pay-button", language, method=name, price=once),
                    Pay(
                        plan_id=plan.plan_id,
                        provider=method.provider,
                        currency=price.currency,
                        amount_minor=price.amount_minor,
                    ),
                )
            ]
        )
        if method.recurring:
            terms = AutopayTerms(
                plan_id=plan.plan_id, provider=method.provider, currency=price.currency
            )
            rows.append(
                [_button(say("pay-autopay-button", language, method=name, price=price), terms)]
            )
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), Menu(action="buy"))]]
    )


def autopay_consent(
    plan: PlanOffer, provider: str, price: Money, language: str
) -> InlineKeyboardMarkup:
    """Agree to these terms and pay, pay once without saving the method, or go back."""
    agree = Autopay(
        plan_id=plan.plan_id,
        provider=provider,
        currency=price.currency,
        amount_minor=price.amount_minor,
    )
    once = Pay(
        plan_id=plan.plan_id,
        provider=provider,
        currency=price.currency,
        amount_minor=price.amount_minor,
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(say("autopay-consent-agree", language), agree)],
            [_button(say("autopay-consent-once", language), once)],
            [_button(say("menu-back", language), ChoosePlan(plan_id=plan.plan_id))],
        ]
    )


def subscription(
    language: str,
    *,
    autopay_on: bool,
    traffic: bool = False,
    move: bool = False,
    protocol: bool = False,
) -> InlineKeyboardMarkup:
    """The main menu, under the button that buys more traffic (for a subscription with a
    limit), the ones that change the region and the protocol (where there is a choice) and
    the one that turns autopay off while it is on."""
    rows = main_menu(language).inline_keyboard
    if protocol:
        rows = [[_button(say("change-protocol-button", language), Menu(action="protocol"))], *rows]
    if move:
        rows = [[_button(say("change-region-button", language), Menu(action="move"))], *rows]
    if autopay_on:
        rows = [[_button(say("autopay-turn-off-button", language), TurnOffAutopay())], *rows]
    if traffic:
        rows = [[_button(say("traffic-button", language), Menu(action="traffic"))], *rows]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def traffic_packs(packs: list[TrafficPackOffer], language: str) -> InlineKeyboardMarkup:
    rows = [
        [
            _button(
                say(
                    "traffic-pack-button",
                    language,
                    gib=gib(pack.traffic_bytes),
                    price=pack.prices[0],
                ),
                ChooseTraffic(pack_id=pack.pack_id),
            )
        ]
        for pack in packs
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), Menu(action="subscription"))]]
    )


def pay_traffic(
    pack: TrafficPackOffer, offers: list[tuple[PaymentMethodOffer, Money]], language: str
) -> InlineKeyboardMarkup:
    """One button per way to pay the pack (the wallet too)."""
    rows = [
        [
            _pay_button(
                method,
                price,
                PayTraffic(
                    pack_id=pack.pack_id,
                    provider=method.provider,
                    currency=price.currency,
                    amount_minor=price.amount_minor,
                ),
                language,
            )
        ]
        for method, price in offers
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[*rows, [_button(say("menu-back", language), Menu(action="traffic"))]]
    )


def _pay_button(
    method: PaymentMethodOffer, price: Money, data: CallbackData, language: str
) -> InlineKeyboardButton:
    """ "Pay <price> with <method>"."""
    name = method_name(method.provider, language)
    return _button(say("pay-button", language, method=name, price=price), data)


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
            _pay_button(
                method,
                price,
                PayTopUp(
                    topup_id=topup.topup_id, provider=method.provider, currency=price.currency
                ),
                language,
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
