"""Composition root of the bot service: everything it runs is assembled here."""

from __future__ import annotations

import functools

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

from bot.catalog import mirror_catalog
from bot.customers import CustomerMiddleware
from bot.events import CheckoutAnswers, record_access, record_subscription
from bot.handlers import build_router
from bot.models import metadata
from bot.settings import BotSettings
from bot.updates import Poller, SlowCheckouts, UpdateProcessor, register_webhook
from chassis.service import Service
from chassis.worker import Wakeup, run_worker
from contracts.billing import (
    CheckoutFailed,
    CheckoutReady,
    PlanCatalogPublished,
    SubscriptionActivated,
    SubscriptionExtended,
)
from contracts.gateway import TelegramUpdateReceived
from contracts.provisioning import AccessGranted

ALLOWED_UPDATES = ["message", "callback_query"]


def telegram_bot(settings: BotSettings) -> Bot:
    return Bot(
        token=settings.telegram_bot_token.get_secret_value() or "0:unset",
        session=AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def update_processor(settings: BotSettings, bot: Bot) -> UpdateProcessor:
    """aiogram's dispatcher with the customer's handlers, fed one update at a time."""
    dispatcher = Dispatcher()
    dispatcher.update.outer_middleware(CustomerMiddleware())
    dispatcher.include_router(build_router(provider=settings.payment_provider))
    return UpdateProcessor(bot, dispatcher)


def build(settings: BotSettings) -> Service:
    service = Service(settings, metadata, migrations="bot:migrations")
    bot = telegram_bot(settings)
    processor = update_processor(settings, bot)
    answers = CheckoutAnswers(bot)

    consumer = service.consumer()
    if settings.update_mode == "webhook":
        consumer.handles(TelegramUpdateReceived)(processor.handle_received)
    consumer.handles(CheckoutReady)(answers.ready)
    consumer.handles(CheckoutFailed)(answers.failed)
    consumer.handles(SubscriptionActivated)(record_subscription)
    consumer.handles(SubscriptionExtended)(record_subscription)
    consumer.handles(AccessGranted)(record_access)
    # The catalog is read by a group of its own: its one compacted partition is replayed
    # from the start by a new replica set without holding up the busy topics.
    service.consumer("catalog").handles(PlanCatalogPublished)(mirror_catalog)

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

    slow = SlowCheckouts(bot, service.sessions, after_s=settings.checkout_slow_after_s)
    service.background(
        "slow-checkouts",
        functools.partial(run_worker, "slow-checkouts", slow.step, Wakeup(), poll_interval_s=2.0),
    )
    service.on_stop(bot.session.close)
    return service
