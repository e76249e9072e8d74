"""Composition root of the bot service: everything it runs is assembled here."""

from __future__ import annotations

import functools
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

from bot import promos, referrals
from bot.autopay import record_change as record_autopay_change
from bot.catalog import mirror_catalog
from bot.checkouts import CheckoutAnswers, CheckoutScreens
from bot.customers import CustomerMiddleware
from bot.events import (
    record_access,
    record_access_status,
    record_link,
    record_shortening,
    record_stage,
    record_subscription,
    record_usage,
)
from bot.handlers import build_router
from bot.models import metadata
from bot.payments import build_router as stars_router
from bot.regions import mirror_regions
from bot.settings import BotSettings
from bot.telegram_calls import TelegramCallPolicy
from bot.updates import (
    Poller,
    PrivateChatsOnly,
    UpdateProcessor,
    register_commands,
    register_webhook,
)
from bot.wallets import record_change as record_wallet_change
from chassis.messaging.consumer import MessageContext
from chassis.service import Service
from chassis.worker import RetryPolicy, Wakeup, run_worker
from contracts.billing import (
    AutopayChanged,
    CatalogPublished,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutReady,
    PromoCodeChecked,
    ReferralRewarded,
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionPlanChanged,
    SubscriptionRemoved,
    SubscriptionShortened,
    SubscriptionSuspended,
    SubscriptionTrafficAdded,
    WalletChanged,
)
from contracts.gateway import TelegramUpdateReceived
from contracts.provisioning import (
    AccessGranted,
    AccessLinkIssued,
    AccessStatusChanged,
    RegionsPublished,
    UsageReported,
)

ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query"]


def telegram_bot(settings: BotSettings) -> Bot:
    """The Bot API client; every call it makes goes through :class:`TelegramCallPolicy`."""
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.telegram_api_url),
        timeout=settings.telegram_timeout_s,
    )
    session.middleware(TelegramCallPolicy())
    return Bot(
        token=settings.telegram_bot_token.get_secret_value() or "0:unset",
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def update_processor(settings: BotSettings, bot: Bot) -> UpdateProcessor:
    """aiogram's dispatcher with the customer's handlers, fed one update at a time."""
    dispatcher = Dispatcher()
    dispatcher.update.outer_middleware(PrivateChatsOnly())
    dispatcher.update.outer_middleware(CustomerMiddleware())
    # Payments first: a service message about a payment must not reach "anything else".
    dispatcher.include_router(stars_router())
    dispatcher.include_router(
        build_router(
            slow_after=timedelta(seconds=settings.checkout_slow_after_s), clock=settings.clock()
        ),
    )
    return UpdateProcessor(bot, dispatcher)


def build(settings: BotSettings) -> Service:
    service = Service(settings, metadata, migrations="bot:migrations")
    bot = telegram_bot(settings)
    processor = update_processor(settings, bot)
    screens_wakeup = Wakeup()
    answers = CheckoutAnswers(screens_wakeup)

    if settings.update_mode == "webhook":
        # Handlers answer customers as they go: each update commits alone, so a retry
        # after a Telegram failure repeats only that update, never its neighbours.
        updates = service.consumer("updates", commit_each=True)
        updates.handles(TelegramUpdateReceived)(processor.handle_received)

    async def subscription_changed(
        event: SubscriptionActivated | SubscriptionExtended | SubscriptionPlanChanged,
        ctx: MessageContext,
    ) -> None:
        await record_subscription(event, ctx)
        await answers.subscription_paid(event, ctx)

    async def wallet_changed(event: WalletChanged, ctx: MessageContext) -> None:
        await record_wallet_change(event, ctx)
        await answers.wallet_credited(event, ctx)

    consumer = service.consumer()
    consumer.handles(CheckoutReady)(answers.ready)
    consumer.handles(CheckoutFailed)(answers.failed)
    consumer.handles(CheckoutPaid)(answers.paid_from_wallet)
    consumer.handles(SubscriptionActivated)(subscription_changed)
    consumer.handles(SubscriptionExtended)(subscription_changed)
    consumer.handles(SubscriptionPlanChanged)(subscription_changed)
    consumer.handles(SubscriptionShortened)(record_shortening)
    consumer.handles(SubscriptionTrafficAdded)(answers.traffic_added)
    consumer.handles(SubscriptionSuspended)(record_stage)
    consumer.handles(SubscriptionRemoved)(record_stage)
    consumer.handles(AccessGranted)(record_access)
    consumer.handles(AccessStatusChanged)(record_access_status)
    consumer.handles(AccessLinkIssued)(record_link)
    consumer.handles(UsageReported)(record_usage)
    consumer.handles(WalletChanged)(wallet_changed)
    consumer.handles(AutopayChanged)(record_autopay_change)
    consumer.handles(PromoCodeChecked)(promos.record_check)
    consumer.handles(ReferralRewarded)(referrals.record_reward)
    # The catalog is read by a group of its own: its one compacted partition is replayed
    # from the start by a new replica set without holding up the busy topics. The v2
    # catalog has a new group, so that it too is read from the start.
    service.consumer("catalog-v2").handles(CatalogPublished)(mirror_catalog)
    # Provisioning's regions catalog, for the same reason in a group of its own.
    service.consumer("regions").handles(RegionsPublished)(mirror_regions)

    if settings.update_mode == "webhook":
        if settings.webhook_url:
            service.background(
                "set-webhook",
                functools.partial(
                    register_webhook,
                    bot,
                    url=settings.webhook_url,
                    secret=settings.webhook_secret.get_secret_value(),
                    allowed_updates=ALLOWED_UPDATES,
                ),
            )
    else:
        poller = Poller(
            processor,
            sessions=service.sessions,
            outbox=service.outbox,
            allowed_updates=ALLOWED_UPDATES,
        )
        service.background("get-updates", poller.run)

    service.background("set-my-commands", functools.partial(register_commands, bot))
    screens = CheckoutScreens(
        bot,
        service.sessions,
        retry=RetryPolicy(
            settings.telegram_retry_first_delay_s, settings.telegram_retry_max_delay_s
        ),
        give_up_after_attempts=settings.checkout_screen_give_up_after_attempts,
    )
    service.background(
        "checkout-screens",
        functools.partial(
            run_worker,
            "checkout-screens",
            screens.step,
            screens_wakeup,
            poll_interval_s=1.0,
            batch_size=screens.batch_size,
        ),
    )
    service.on_stop(bot.session.close)
    return service
