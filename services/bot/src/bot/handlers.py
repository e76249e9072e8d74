"""What the customer can do in the chat: start, browse plans, pay (renewing automatically
or once, where the method can renew), see the subscription and turn its autopay off.

Handlers are thin: they read the bot's own tables, publish commands through the outbox
of the update's transaction, and answer in the customer's language. Every button press
answers its callback query, so the customer's client stops its progress indicator.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy import select

from bot import autopay, keyboards, promos, referrals
from bot.catalog import Catalog, current_catalog, plan_title
from bot.checkouts import open_checkout
from bot.models import Customer, CustomerAutopay, CustomerSubscription, TrafficUsage
from bot.receipts import PendingCheckout, valid_email
from bot.regions import Regions, current_regions, region_name
from bot.texts import LANGUAGES, Html, gib, method_name, protocol_name, say, usage_bar
from bot.wallets import wallet_view
from chassis.clock import Clock, SystemClock
from chassis.i18n import Value
from chassis.messaging.consumer import MessageContext
from contracts.billing import PaymentMethodOffer, PlanOffer, PromoOffer, TrafficPackOffer
from contracts.bot import (
    REFERRAL_CODE,
    AccessChangeRequested,
    CustomerEmailProvided,
    CustomerLanguageChanged,
    CustomerRemindersChanged,
    PromoCodeEntered,
    TrialRequested,
    referral_code_for,
)
from contracts.fields import promo_code_from
from contracts.money import Money
from contracts.provisioning import RegionOffer

log = logging.getLogger(__name__)


def subscription_view(
    subscription: CustomerSubscription | None,
    language: str,
    now: datetime,
    renewal: CustomerAutopay | None = None,
    usage: TrafficUsage | None = None,
) -> str:
    if subscription is None:
        return say("subscription-none", language)
    served_until = subscription.access_until
    status_params: dict[str, Value] = {}
    if subscription.stage == "removed":
        status = "subscription-status-removed"
    elif subscription.stage == "suspended" or (served_until is not None and served_until <= now):
        status = "subscription-status-suspended"
    elif served_until is not None and subscription.period_end <= now:
        status = "subscription-status-grace"  # past the end, served until the grace's end
        status_params["until"] = served_until
    elif subscription.period_end <= now or subscription.access_status == "expired":
        # Told before grace periods (no access_until), or the panel expired the user.
        status = "subscription-status-expired"
    elif subscription.access_status == "limited":
        status = "subscription-status-limited"
    elif subscription.access_status == "disabled":
        status = "subscription-status-disabled"
    elif subscription.subscription_url is None:
        status = "subscription-status-provisioning"
    else:
        status = "subscription-status-active"
    link = (
        say("subscription-link", language, url=subscription.subscription_url)
        if subscription.subscription_url
        else say("subscription-no-link", language)
    )
    text = say(
        "subscription-active",
        language,
        status=Html(say(status, language, **status_params)),
        expires=subscription.period_end,
        traffic=Html(traffic_view(subscription, usage, language)),
        link=Html(link),
    )
    return text if renewal is None else f"{text}\n\n{autopay.autopay_line(renewal, language)}"


def traffic_view(
    subscription: CustomerSubscription, usage: TrafficUsage | None, language: str
) -> str:
    """The allowance; with what the panel counted (at most one panel watch old), what was
    used and what is left of it (the panel's limit includes carried traffic and packs)."""
    if usage is None:
        return say(
            "subscription-traffic", language, traffic_gib=gib(subscription.traffic_limit_bytes)
        )
    bar, percent = usage_bar(usage.used_bytes, usage.limit_bytes)
    return say(
        "subscription-traffic-used",
        language,
        traffic_gib=gib(usage.limit_bytes),
        used_gib=gib(usage.used_bytes),
        left_gib=gib(max(usage.limit_bytes - usage.used_bytes, 0)),
        bar=bar,
        percent=percent,
    )


def build_router(*, slow_after: timedelta, clock: Clock | None = None) -> Router:
    """The customer's screens; "now" (what has expired) comes from ``clock``."""
    clock = clock or SystemClock()
    router = Router(name="customer")

    @router.message(CommandStart())
    async def start(
        message: Message, customer: Customer, ctx: MessageContext, command: CommandObject
    ) -> None:
        customer.awaiting = None  # starting over drops a question left unanswered
        name = message.from_user.first_name if message.from_user else ""
        text = say("welcome", customer.language, name=name)
        if (note := _invitation_note(customer, command.args)) is not None:
            text = f"{say(note, customer.language)}\n\n{text}"
        await message.answer(text, reply_markup=await _main_menu(ctx, customer))

    @router.message(Command("buy"))
    async def buy_command(message: Message, customer: Customer, ctx: MessageContext) -> None:
        text, markup = await _catalog_screen(ctx, customer)
        await message.answer(text, reply_markup=markup)

    @router.message(Command("subscription"))
    async def subscription_command(
        message: Message, customer: Customer, ctx: MessageContext
    ) -> None:
        text, markup = await _subscription_screen(ctx, customer, clock.now())
        await message.answer(text, reply_markup=markup)

    @router.message(Command("help"))
    async def help_command(message: Message, customer: Customer) -> None:
        await message.answer(
            say("help", customer.language), reply_markup=keyboards.main_menu(customer.language)
        )

    @router.message(Command("promo"))
    async def promo_command(message: Message, customer: Customer) -> None:
        customer.awaiting = promos.AWAITING
        await message.answer(
            say("promo-ask", customer.language),
            reply_markup=keyboards.back_markup(customer.language),
        )

    @router.message(Command("language"))
    async def language_command(message: Message, customer: Customer) -> None:
        await message.answer(
            say("language-choose", customer.language),
            reply_markup=keyboards.languages(customer.language),
        )

    @router.callback_query(keyboards.Menu.filter())
    async def menu(
        query: CallbackQuery,
        callback_data: keyboards.Menu,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        language = customer.language
        customer.awaiting = None  # a menu button drops a question left unanswered
        if callback_data.action == "buy":
            text, markup = await _catalog_screen(ctx, customer)
        elif callback_data.action == "subscription":
            text, markup = await _subscription_screen(ctx, customer, clock.now())
        elif callback_data.action == "wallet":
            text, markup = await _wallet_screen(ctx, customer)
        elif callback_data.action == "traffic":
            text, markup = await _traffic_screen(ctx, customer, clock.now())
        elif callback_data.action == "move":
            text, markup = await _move_screen(ctx, customer, clock.now())
        elif callback_data.action == "protocol":
            text, markup = await _protocol_change_screen(ctx, customer, clock.now())
        elif callback_data.action == "trial":
            await ctx.publish(
                TrialRequested(
                    request_id=uuid.uuid4(),
                    customer_id=customer.customer_id,
                    telegram_user_id=customer.telegram_user_id,
                    requested_at=datetime.now(UTC),
                )
            )
            text, markup = say("trial-starting", language), keyboards.back_markup(language)
        elif callback_data.action == "referrals":
            text, markup = (
                await _referral_screen(query, ctx, customer),
                keyboards.back_markup(language),
            )
        elif callback_data.action == "promo":
            customer.awaiting = promos.AWAITING
            text, markup = say("promo-ask", language), keyboards.back_markup(language)
        elif callback_data.action == "language":
            text, markup = say("language-choose", language), keyboards.languages(language)
        elif callback_data.action == "settings":
            text, markup = _settings_screen(customer)
        else:
            name = query.from_user.first_name
            text, markup = say("welcome", language, name=name), await _main_menu(ctx, customer)
        await _show(query, text, markup)

    @router.callback_query(keyboards.ChoosePlan.filter())
    async def choose_plan(
        query: CallbackQuery,
        callback_data: keyboards.ChoosePlan,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        """A plan chosen: where to be served comes next, unless only one region can."""
        known = await current_regions(ctx.session)
        if known.choice_needed:
            await _region_screen(query, customer, callback_data.plan_id, known)
            return
        customer.chosen_region = known.without_choice
        await _after_region(query, ctx, customer, callback_data.plan_id, clock.now())

    @router.callback_query(keyboards.ChooseRegion.filter())
    async def choose_region(
        query: CallbackQuery,
        callback_data: keyboards.ChooseRegion,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        """A region chosen for the plan; one that cannot take anyone now is answered with
        the nearest that can."""
        known = await current_regions(ctx.session)
        offer = known.get(callback_data.region)
        if offer is None:  # gone from the catalog since the button was made
            await _region_screen(query, customer, callback_data.plan_id, known)
            return
        if not offer.available:
            await _region_refused(query, customer, callback_data.plan_id, known, offer)
            return
        customer.chosen_region = offer.region
        await _after_region(query, ctx, customer, callback_data.plan_id, clock.now())

    @router.callback_query(keyboards.ChooseProtocol.filter())
    async def choose_protocol(
        query: CallbackQuery,
        callback_data: keyboards.ChooseProtocol,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        """A protocol chosen among the region's; one it no longer offers asks again."""
        region = (await current_regions(ctx.session)).get(customer.chosen_region)
        offered = region.protocols if region is not None else ()
        if callback_data.protocol not in offered:
            await _after_region(query, ctx, customer, callback_data.plan_id, clock.now())
            return
        customer.chosen_protocol = callback_data.protocol
        await _plan_screen(query, ctx, customer, callback_data.plan_id, clock.now())

    @router.callback_query(keyboards.ChangeAccess.filter())
    async def change_access(
        query: CallbackQuery,
        callback_data: keyboards.ChangeAccess,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        """A region or protocol chosen in "My subscription": provisioning is asked to move
        the access. What is no longer offered (a stale button) is answered with what is."""
        language, now = customer.language, clock.now()
        subscription = await _subscription_of(ctx, customer)
        if subscription is None or not _changeable(subscription, now):
            text, markup = await _subscription_screen(ctx, customer, now)
            await _show(query, f"{say('change-unavailable', language)}\n\n{text}", markup)
            return
        offer = (await current_regions(ctx.session)).get(callback_data.region)
        if offer is None or not offer.available:
            text, markup = await _move_screen(ctx, customer, now)
            await _show(query, f"{say('change-region-gone', language)}\n\n{text}", markup)
            return
        protocol = callback_data.protocol or None
        if protocol is not None and protocol not in offer.protocols:
            markup = keyboards.change_protocols(offer.region, offer.protocols, language)
            text = f"{say('change-protocol-gone', language)}\n\n{say('protocol-choose', language)}"
            await _show(query, text, markup)
            return
        kept = subscription.protocol
        if (
            protocol is None
            and kept is not None
            and offer.protocols
            and kept not in offer.protocols
        ):
            # The protocol the customer has is not served there: they choose another.
            if len(offer.protocols) > 1:
                markup = keyboards.change_protocols(offer.region, offer.protocols, language)
                await _show(query, say("protocol-choose", language), markup)
                return
            protocol = offer.protocols[0]
        region = offer.region if offer.region != subscription.region else None
        if region is None and protocol in (None, kept):
            text, markup = await _subscription_screen(ctx, customer, now)
            await _show(query, f"{say('change-same', language)}\n\n{text}", markup)
            return
        await ctx.publish(
            AccessChangeRequested(
                request_id=uuid.uuid4(),
                customer_id=customer.customer_id,
                subscription_id=subscription.subscription_id,
                region=region,
                protocol=protocol,
                requested_at=datetime.now(UTC),
            )
        )
        await _show(query, say("change-requested", language), keyboards.main_menu(language))

    @router.callback_query(keyboards.Pay.filter())
    @router.callback_query(keyboards.LegacyPay.filter())
    async def pay(
        query: CallbackQuery,
        callback_data: keyboards.Pay | keyboards.LegacyPay,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        catalog = await current_catalog(ctx.session)
        chosen = catalog.plan_offer(
            customer.customer_id,
            callback_data.plan_id,
            callback_data.provider,
            callback_data.currency,
            customer.chosen_region,
        )
        if chosen is None or query.message is None:
            await _plan_gone(query, catalog, customer)
            return
        if (
            isinstance(callback_data, keyboards.Pay)
            and callback_data.amount_minor != chosen.price.amount_minor
        ):
            # The price changed since the button was made: shown again before paying.
            await _plan_screen(
                query, ctx, customer, chosen.plan.plan_id, clock.now(), note="price-changed"
            )
            return
        await _pay(
            query,
            ctx,
            customer,
            PendingCheckout(
                chosen.plan.plan_id,
                chosen.method.provider,
                chosen.price.currency,
                quote_id=chosen.quote_id,
            ),
            chosen.method,
            message_id=query.message.message_id,
            slow_after=slow_after,
        )

    @router.callback_query(keyboards.AutopayTerms.filter())
    async def autopay_terms(
        query: CallbackQuery,
        callback_data: keyboards.AutopayTerms,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        """Before a payment saves its method, the customer reads what they agree to: the
        amount, how often, when, and how to turn it off."""
        language = customer.language
        catalog = await current_catalog(ctx.session)
        chosen = catalog.plan_offer(
            customer.customer_id,
            callback_data.plan_id,
            callback_data.provider,
            callback_data.currency,
            customer.chosen_region,
        )
        if chosen is None or not chosen.method.recurring:
            await _plan_gone(query, catalog, customer)
            return
        plan, method, price = chosen.plan, chosen.method, chosen.price
        text = say(
            autopay.TERMS_MESSAGE,
            language,
            title=plan_title(plan, language),
            method=method_name(method.provider, language),
            price=price,
            days=plan.duration_days,
            months=plan.duration_months,
        )
        await _show(query, text, keyboards.autopay_consent(plan, method.provider, price, language))

    @router.callback_query(keyboards.Autopay.filter())
    async def pay_with_autopay(
        query: CallbackQuery,
        callback_data: keyboards.Autopay,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        """The customer agreed: checked again (the catalog may have changed since the
        terms were shown), and the consent is to exactly the price they read."""
        language = customer.language
        catalog = await current_catalog(ctx.session)
        chosen = catalog.plan_offer(
            customer.customer_id,
            callback_data.plan_id,
            callback_data.provider,
            callback_data.currency,
            customer.chosen_region,
        )
        if chosen is None or not chosen.method.recurring or query.message is None:
            await _plan_gone(query, catalog, customer)
            return
        if chosen.price.amount_minor != callback_data.amount_minor:
            await _plan_screen(
                query, ctx, customer, chosen.plan.plan_id, clock.now(), note="price-changed"
            )
            return
        plan, method, price = chosen.plan, chosen.method, chosen.price
        agreed = autopay.consent(plan, price, language)
        await _pay(
            query,
            ctx,
            customer,
            PendingCheckout(
                plan.plan_id,
                method.provider,
                price.currency,
                autopay=agreed,
                quote_id=chosen.quote_id,
            ),
            method,
            message_id=query.message.message_id,
            slow_after=slow_after,
        )

    @router.callback_query(keyboards.TurnOffAutopay.filter())
    async def turn_off_autopay(
        query: CallbackQuery, customer: Customer, ctx: MessageContext
    ) -> None:
        """Off at once, whatever billing does next; pressed again, only the screen again."""
        language = customer.language
        await autopay.turn_off(ctx, customer.customer_id)
        subscription = await _subscription_of(ctx, customer)
        if subscription is None:
            # A button with no subscription behind it: what there is instead.
            await _show(query, *await _subscription_screen(ctx, customer, clock.now()))
            return
        text = say("autopay-turned-off", language, expires=subscription.period_end)
        await _show(query, text, keyboards.main_menu(language))

    @router.message(Command("wallet"))
    async def wallet_command(message: Message, customer: Customer, ctx: MessageContext) -> None:
        text, markup = await _wallet_screen(ctx, customer)
        await message.answer(text, reply_markup=markup)

    @router.callback_query(keyboards.TopUp.filter())
    async def choose_topup(
        query: CallbackQuery,
        callback_data: keyboards.TopUp,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        language = customer.language
        catalog = await current_catalog(ctx.session)
        topup = catalog.topup(callback_data.topup_id)
        offers = (
            [o for o in catalog.offers(topup.prices) if o[0].provider != "wallet"] if topup else []
        )
        if topup is None or not offers:
            await _show(query, *await _wallet_screen(ctx, customer))
            return
        text = say("topup-how-to-pay", language, credit=topup.credit)
        await _show(query, text, keyboards.pay_topup(topup, offers, language))

    @router.callback_query(keyboards.PayTopUp.filter())
    async def pay_topup(
        query: CallbackQuery,
        callback_data: keyboards.PayTopUp,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        catalog = await current_catalog(ctx.session)
        topup = catalog.topup(callback_data.topup_id)
        offered = {
            (method.provider, price.currency)
            for method, price in (catalog.offers(topup.prices) if topup else [])
            if method.provider != "wallet"
        }
        if (
            topup is None
            or query.message is None
            or ((callback_data.provider, callback_data.currency) not in offered)
        ):
            await _show(query, *await _wallet_screen(ctx, customer))
            return
        method = next(m for m in catalog.methods if m.provider == callback_data.provider)
        await _pay(
            query,
            ctx,
            customer,
            PendingCheckout(topup.topup_id, method.provider, callback_data.currency, kind="topup"),
            method,
            message_id=query.message.message_id,
            slow_after=slow_after,
        )

    @router.callback_query(keyboards.ChooseTraffic.filter())
    async def choose_traffic(
        query: CallbackQuery,
        callback_data: keyboards.ChooseTraffic,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        catalog = await current_catalog(ctx.session)
        pack = catalog.traffic_pack(callback_data.pack_id)
        offers = catalog.offers(pack.prices) if pack is not None else []
        if pack is None or not offers:
            await _show(query, *await _traffic_screen(ctx, customer, clock.now()))
            return
        text = say("traffic-how-to-pay", customer.language, gib=gib(pack.traffic_bytes))
        await _show(query, text, keyboards.pay_traffic(pack, offers, customer.language))

    @router.callback_query(keyboards.PayTraffic.filter())
    async def pay_traffic(
        query: CallbackQuery,
        callback_data: keyboards.PayTraffic,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        catalog = await current_catalog(ctx.session)
        pack = catalog.traffic_pack(callback_data.pack_id)
        offered = {
            (method.provider, price.currency, price.amount_minor): method
            for method, price in (catalog.offers(pack.prices) if pack else [])
        }
        method = offered.get(
            (callback_data.provider, callback_data.currency, callback_data.amount_minor)
        )
        if pack is None or method is None or query.message is None:
            # Gone from sale, or its price changed since: the packs as they are now.
            await _show(query, *await _traffic_screen(ctx, customer, clock.now()))
            return
        await _pay(
            query,
            ctx,
            customer,
            PendingCheckout(pack.pack_id, method.provider, callback_data.currency, kind="traffic"),
            method,
            message_id=query.message.message_id,
            slow_after=slow_after,
        )

    @router.callback_query(keyboards.Reminders.filter())
    async def switch_reminders(
        query: CallbackQuery,
        callback_data: keyboards.Reminders,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        """Reminders about the subscription's end on or off; payment, access and autopay
        messages are not switched (autopay's notice before a charge is required)."""
        if callback_data.on != customer.reminders:
            customer.reminders = callback_data.on
            await ctx.publish(
                CustomerRemindersChanged(
                    customer_id=customer.customer_id,
                    reminders=callback_data.on,
                    changed_at=datetime.now(UTC),
                )
            )
        await _show(query, *_settings_screen(customer))

    @router.callback_query(keyboards.ChooseLanguage.filter())
    async def choose_language(
        query: CallbackQuery,
        callback_data: keyboards.ChooseLanguage,
        customer: Customer,
        ctx: MessageContext,
    ) -> None:
        if callback_data.language not in LANGUAGES:
            # A button from a language this deployment no longer ships.
            await _show(
                query,
                say("language-choose", customer.language),
                keyboards.languages(customer.language),
            )
            return
        language = callback_data.language
        if language != customer.language:
            customer.language = language
            await ctx.publish(
                CustomerLanguageChanged(
                    customer_id=customer.customer_id,
                    language=language,
                    changed_at=datetime.now(UTC),
                )
            )
        await _show(query, say("language-changed", language), keyboards.main_menu(language))

    @router.callback_query()
    async def stale_button(query: CallbackQuery, customer: Customer) -> None:
        # A button from an older version of the bot: answer it and show the menu.
        await _show(
            query, say("unknown", customer.language), keyboards.main_menu(customer.language)
        )

    @router.message(F.text, F.chat.type == "private")
    async def answer_awaited(message: Message, customer: Customer, ctx: MessageContext) -> None:
        if customer.awaiting == promos.AWAITING:
            await _promo_code(message, customer, ctx)
            return
        pending = PendingCheckout.decode(customer.awaiting)
        if pending is None:
            await message.answer(
                say("unknown", customer.language),
                reply_markup=keyboards.main_menu(customer.language),
            )
            return
        await _receipt_email(message, customer, ctx, pending, slow_after)

    @router.message(F.chat.type == "private")
    async def anything_else(message: Message, customer: Customer) -> None:
        await message.answer(
            say("unknown", customer.language), reply_markup=keyboards.main_menu(customer.language)
        )

    return router


async def _referral_screen(query: CallbackQuery, ctx: MessageContext, customer: Customer) -> str:
    """The customer's link and what it brought (the bot's name from Telegram, cached)."""
    language = customer.language
    standing = await referrals.standing(ctx.session, customer.customer_id)
    me = await query.bot.me() if query.bot is not None else None
    link = f"https://t.me/{me.username if me else ''}?start={standing.code}"
    earned = [say("referral-amount", language, amount=money) for money in standing.earned]
    if standing.days:
        earned.append(say("referral-days", language, days=standing.days))
    return say(
        "referral-screen",
        language,
        link=link,
        joined=standing.joined,
        paid=standing.paid,
        earned=", ".join(earned) if earned else say("referral-nothing-yet", language),
    )


def _invitation_note(customer: Customer, payload: str | None) -> str | None:
    """What to say of a referral link the customer started by: their own, or someone's
    when they are a customer already (an invitation counts for newcomers only)."""
    if not payload or not REFERRAL_CODE.fullmatch(payload):
        return None
    if payload == referral_code_for(customer.customer_id):
        return "referral-own-link"
    if customer.referral_code != payload:
        return "referral-already-customer"
    return None


async def _main_menu(ctx: MessageContext, customer: Customer) -> InlineKeyboardMarkup:
    """The menu, with the free trial for a customer who never had a subscription (billing
    decides whether they get one)."""
    return keyboards.main_menu(
        customer.language, trial=await _subscription_of(ctx, customer) is None
    )


def _settings_screen(customer: Customer) -> tuple[str, InlineKeyboardMarkup]:
    language = customer.language
    state = "settings-reminders-on" if customer.reminders else "settings-reminders-off"
    text = say("settings-title", language, reminders=Html(say(state, language)))
    return text, keyboards.settings(language, reminders=customer.reminders)


def _catalog_buttons(catalog: Catalog, customer: Customer) -> InlineKeyboardMarkup:
    """The plans on sale, each at the first price the customer is quoted."""
    quoted = [(plan, catalog.prices_for(customer.customer_id, plan)) for plan in catalog.plans]
    return keyboards.catalog(
        [(plan, prices[0]) for plan, prices in quoted if plan.active and prices],
        customer.language,
    )


async def _catalog_screen(
    ctx: MessageContext, customer: Customer
) -> tuple[str, InlineKeyboardMarkup]:
    language = customer.language
    catalog = await current_catalog(ctx.session)
    if not any(plan.active for plan in catalog.plans):
        return say("catalog-empty", language), keyboards.main_menu(language)
    return say("catalog-title", language), _catalog_buttons(catalog, customer)


async def _plan_screen(
    query: CallbackQuery,
    ctx: MessageContext,
    customer: Customer,
    plan_id: str,
    now: datetime,
    *,
    note: str | None = None,
) -> None:
    """A plan at the prices the customer is quoted, with a way to pay each; ``note`` (a
    message id) above it, such as that its price changed."""
    language = customer.language
    catalog = await current_catalog(ctx.session)
    plan = catalog.plan(plan_id)
    region = customer.chosen_region
    offers = catalog.offers(catalog.prices_for(customer.customer_id, plan, region)) if plan else []
    if plan is None or not plan.active or not offers:
        await _plan_gone(query, catalog, customer)
        return
    promo = await promos.held(ctx.session, customer.customer_id)
    if promo is not None and not promo.applies_to(plan.plan_id):
        promo = None
    text = say(
        "plan-details",
        language,
        title=plan_title(plan, language),
        days=plan.duration_days,
        months=plan.duration_months,
        monthly="yes" if plan.traffic_reset == "month" else "no",
        traffic_gib=gib(plan.traffic_limit_bytes + _extra_traffic(plan, promo)),
        price=_price(offers[0][1], promo, language),
    )
    chosen = (await current_regions(ctx.session)).get(customer.chosen_region)
    if chosen is not None:
        text = f"{text}\n{say('plan-region', language, name=region_name(chosen, language))}"
    if customer.chosen_protocol is not None:
        name = protocol_name(customer.chosen_protocol, language)
        text = f"{text}\n{say('plan-protocol', language, name=name)}"
    change = await _plan_change_note(ctx, customer, catalog, plan, now)
    if change is not None:
        text = f"{text}\n\n{change}"
    text = f"{text}\n\n{say('plan-how-to-pay', language)}"
    if note is not None:
        text = f"{say(note, language)}\n\n{text}"
    await _show(query, text, keyboards.pay(plan, offers, language, promo))


async def _region_screen(
    query: CallbackQuery, customer: Customer, plan_id: str, known: Regions
) -> None:
    language = customer.language
    markup = keyboards.regions(plan_id, known.in_order, language, default=known.default_region)
    await _show(query, say("region-choose", language), markup)


async def _after_region(
    query: CallbackQuery, ctx: MessageContext, customer: Customer, plan_id: str, now: datetime
) -> None:
    """With the region chosen, the protocol, when the region offers more than one; then
    the plan at that region's price."""
    customer.chosen_protocol = None
    region = (await current_regions(ctx.session)).get(customer.chosen_region)
    if region is not None and len(region.protocols) > 1:
        language = customer.language
        markup = keyboards.protocols(plan_id, region.protocols, language)
        await _show(query, say("protocol-choose", language), markup)
        return
    await _plan_screen(query, ctx, customer, plan_id, now)


async def _region_refused(
    query: CallbackQuery, customer: Customer, plan_id: str, known: Regions, offer: RegionOffer
) -> None:
    """A region that cannot take a new customer now: its nearest alternatives that can."""
    language = customer.language
    name = region_name(offer, language)
    instead = known.alternatives(offer)
    text = say("region-unavailable" if instead else "region-unavailable-none", language, name=name)
    markup = keyboards.regions(plan_id, instead, language, default=known.default_region)
    await _show(query, text, markup)


async def _subscription_of(ctx: MessageContext, customer: Customer) -> CustomerSubscription | None:
    subscription: CustomerSubscription | None = await ctx.session.scalar(
        select(CustomerSubscription).where(CustomerSubscription.customer_id == customer.customer_id)
    )
    return subscription


async def _subscription_screen(
    ctx: MessageContext, customer: Customer, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    subscription = await _subscription_of(ctx, customer)
    renewal = await ctx.session.get(CustomerAutopay, customer.customer_id)
    usage = (
        await ctx.session.get(TrafficUsage, subscription.subscription_id)
        if subscription is not None
        else None
    )
    text = subscription_view(subscription, customer.language, now, renewal, usage)
    autopay_on = subscription is not None and renewal is not None and renewal.enabled
    traffic = bool(_traffic_on_sale(await current_catalog(ctx.session), subscription, now))
    known = await current_regions(ctx.session)
    move = subscription is not None and bool(_move_targets(subscription, known, now))
    protocol = subscription is not None and bool(_protocol_targets(subscription, known, now))
    markup = keyboards.subscription(
        customer.language, autopay_on=autopay_on, traffic=traffic, move=move, protocol=protocol
    )
    return text, markup


def _changeable(subscription: CustomerSubscription, now: datetime) -> bool:
    """Access is served (granted, paid and not suspended): it can be moved."""
    return (
        subscription.region is not None
        and subscription.stage == "active"
        and subscription.period_end > now
    )


def _move_targets(
    subscription: CustomerSubscription, known: Regions, now: datetime
) -> tuple[RegionOffer, ...]:
    if not _changeable(subscription, now):
        return ()
    return tuple(offer for offer in known.available if offer.region != subscription.region)


def _protocol_targets(
    subscription: CustomerSubscription, known: Regions, now: datetime
) -> tuple[str, ...]:
    here = known.get(subscription.region)
    if not _changeable(subscription, now) or here is None:
        return ()
    others = tuple(name for name in here.protocols if name != subscription.protocol)
    # With no protocol chosen the user has every one of the panel: one more is no choice.
    return others if subscription.protocol is not None or len(here.protocols) > 1 else ()


async def _move_screen(
    ctx: MessageContext, customer: Customer, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    subscription = await _subscription_of(ctx, customer)
    known = await current_regions(ctx.session)
    targets = _move_targets(subscription, known, now) if subscription is not None else ()
    if not targets:
        return say("change-region-none", customer.language), keyboards.main_menu(customer.language)
    return say("change-region-choose", customer.language), keyboards.change_regions(
        targets, customer.language
    )


async def _protocol_change_screen(
    ctx: MessageContext, customer: Customer, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    subscription = await _subscription_of(ctx, customer)
    known = await current_regions(ctx.session)
    if subscription is None or not (targets := _protocol_targets(subscription, known, now)):
        return say("change-protocol-none", customer.language), keyboards.main_menu(
            customer.language
        )
    language = customer.language
    text = say("protocol-choose", language)
    if subscription.protocol is not None:
        current = say(
            "plan-protocol", language, name=protocol_name(subscription.protocol, language)
        )
        text = f"{current}\n{text}"
    return text, keyboards.change_protocols(subscription.region or "", targets, language)


def _traffic_on_sale(
    catalog: Catalog, subscription: CustomerSubscription | None, now: datetime
) -> list[TrafficPackOffer]:
    """The traffic packs this subscription can take: paid time ahead, a limit, and one
    allowance for its period (billing refuses the rest the same way)."""
    plan = catalog.plan(subscription.plan_id) if subscription is not None else None
    if (
        subscription is None
        or subscription.stage != "active"
        or subscription.period_end <= now
        or not subscription.traffic_limit_bytes
        or (plan is not None and plan.traffic_reset == "month")
    ):
        return []
    return list(catalog.traffic_packs)


async def _traffic_screen(
    ctx: MessageContext, customer: Customer, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    catalog = await current_catalog(ctx.session)
    subscription = await _subscription_of(ctx, customer)
    packs = _traffic_on_sale(catalog, subscription, now)
    if subscription is None or not packs:
        return say("traffic-none", customer.language), keyboards.main_menu(customer.language)
    text = say("traffic-title", customer.language, until=subscription.period_end)
    return text, keyboards.traffic_packs(packs, customer.language)


async def _pay(
    query: CallbackQuery,
    ctx: MessageContext,
    customer: Customer,
    chosen: PendingCheckout,
    method: PaymentMethodOffer,
    *,
    message_id: int,
    slow_after: timedelta,
) -> None:
    """Open the checkout of a plan or top-up on the pressed message, unless the method
    needs a receipt e-mail the bot does not have yet: then the choice waits for it."""
    language = customer.language
    if method.receipt_email_required and customer.email is None:
        customer.awaiting = chosen.encode()
        await _show(query, say("receipt-email-ask", language), None)
        return
    await open_checkout(
        ctx,
        customer,
        message_id=message_id,
        plan_id=chosen.plan_id,
        provider=chosen.provider,
        currency=chosen.currency,
        slow_after=slow_after,
        kind=chosen.kind,
        autopay=chosen.autopay,
        quote_id=chosen.quote_id,
    )
    await _show(query, say("checkout-preparing", language), None)


async def _plan_change_note(
    ctx: MessageContext, customer: Customer, catalog: Catalog, plan: PlanOffer, now: datetime
) -> str | None:
    """For a subscriber, what buying ``plan`` does to what they have: an upgrade starts at
    once with the unused part credited, a downgrade after the current plan's end."""
    subscription = await _subscription_of(ctx, customer)
    current = catalog.plan(subscription.plan_id) if subscription is not None else None
    if (
        subscription is None
        or current is None
        or current.tier == plan.tier
        or subscription.stage != "active"
        or subscription.period_end <= now
    ):
        return None
    title = plan_title(current, customer.language)
    if plan.tier > current.tier:
        return say("plan-upgrade-note", customer.language, current=title)
    return say(
        "plan-downgrade-note", customer.language, current=title, until=subscription.period_end
    )


async def _plan_gone(query: CallbackQuery, catalog: Catalog, customer: Customer) -> None:
    """A button of a plan (or price, or way to pay) no longer on sale: the catalog now."""
    text = say("plan-unavailable", customer.language)
    await _show(query, text, _catalog_buttons(catalog, customer))


async def _receipt_email(
    message: Message,
    customer: Customer,
    ctx: MessageContext,
    pending: PendingCheckout,
    slow_after: timedelta,
) -> None:
    """The customer answered the e-mail question: keep it and go on with the checkout."""
    language = customer.language
    email = valid_email(message.text or "")
    if email is None:
        text = (message.text or "")[:64]
        await message.answer(say("receipt-email-invalid", language, text=text))
        return
    customer.email = email
    customer.awaiting = None
    await ctx.publish(
        CustomerEmailProvided(
            customer_id=customer.customer_id, email=email, provided_at=datetime.now(UTC)
        )
    )
    await message.answer(say("receipt-email-saved", language, email=email))
    preparing = await message.answer(say("checkout-preparing", language))
    await open_checkout(
        ctx,
        customer,
        message_id=preparing.message_id,
        plan_id=pending.plan_id,
        provider=pending.provider,
        currency=pending.currency,
        slow_after=slow_after,
        kind=pending.kind,
        autopay=pending.autopay,
        quote_id=pending.quote_id,
    )


async def _promo_code(message: Message, customer: Customer, ctx: MessageContext) -> None:
    """The customer typed a code: billing checks it and tells them; nonsense is answered
    here, and the bot keeps waiting for a code."""
    language = customer.language
    code = promo_code_from(message.text or "")
    if code is None:
        text = (message.text or "")[:64]
        await message.answer(say("promo-not-a-code", language, text=text))
        return
    customer.awaiting = None
    await ctx.publish(
        PromoCodeEntered(
            request_id=uuid.uuid4(),
            customer_id=customer.customer_id,
            code=code,
            entered_at=datetime.now(UTC),
        )
    )
    await message.answer(say("promo-checking", language, code=code))


def _price(price: Money, promo: PromoOffer | None, language: str) -> Value:
    """A plan's price, or, with a code for it, the price crossed out beside the discount."""
    if promo is None or promo.price(price) == price:
        return price
    return Html(
        say("price-with-promo", language, list=price, price=promo.price(price), code=promo.code)
    )


def _extra_traffic(plan: PlanOffer, promo: PromoOffer | None) -> int:
    """What a code's extra traffic adds to the plan shown (nothing to an unlimited one)."""
    if promo is None or not promo.extra_traffic_bytes or not plan.traffic_limit_bytes:
        return 0
    return promo.extra_traffic_bytes


async def _wallet_screen(
    ctx: MessageContext, customer: Customer
) -> tuple[str, InlineKeyboardMarkup]:
    language = customer.language
    catalog = await current_catalog(ctx.session)
    if catalog.wallet_currency is None:
        return say("wallet-off", language), keyboards.main_menu(language)
    text = await wallet_view(ctx.session, customer.customer_id, catalog.wallet_currency, language)
    return text, keyboards.wallet(catalog.topups, language)


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Answer the button press and replace the message it was on.

    The press's answer comes first, while Telegram's window for it is open; pressed too
    long ago, it is skipped and the screen changes all the same (``bot.telegram_calls``).
    Showing the screen already shown is done, not an error.
    """
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)
    elif query.message is not None:
        await query.bot.send_message(query.message.chat.id, text, reply_markup=markup)  # type: ignore[union-attr]
