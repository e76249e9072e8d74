"""Composition root of the notifier service: everything it runs is assembled here."""

from __future__ import annotations

import functools

from chassis.service import Service
from chassis.worker import RetryPolicy, Wakeup, run_worker
from contracts.billing import PaymentCanceled, PaymentRefunded
from contracts.bot import CustomerLanguageChanged, CustomerRegistered, CustomerRemindersChanged
from contracts.notifier import SendNotification
from contracts.provisioning import (
    AccessGranted,
    AccessLinkIssued,
    AccessProvisioningFailed,
    TrafficThresholdReached,
)
from notifier.deliveries import RateLimit, Recorder, Sender
from notifier.models import metadata
from notifier.settings import NotifierSettings
from notifier.telegram import TelegramClient


def build(settings: NotifierSettings) -> Service:
    service = Service(settings, metadata, migrations="notifier:migrations")
    wakeup = Wakeup()
    recorder = Recorder(wakeup)
    consumer = service.consumer()
    consumer.handles(CustomerRegistered)(recorder.customer_registered)
    consumer.handles(CustomerLanguageChanged)(recorder.language_changed)
    consumer.handles(CustomerRemindersChanged)(recorder.reminders_changed)
    consumer.handles(AccessGranted)(recorder.access_granted)
    consumer.handles(AccessLinkIssued)(recorder.link_issued)
    consumer.handles(AccessProvisioningFailed)(recorder.access_failed)
    consumer.handles(TrafficThresholdReached)(recorder.traffic_threshold)
    consumer.handles(PaymentCanceled)(recorder.payment_canceled)
    consumer.handles(PaymentRefunded)(recorder.payment_refunded)
    consumer.handles(SendNotification)(recorder.send_notification)

    telegram = TelegramClient(
        api_url=settings.telegram_api_url,
        token=settings.telegram_bot_token.get_secret_value(),
        timeout_s=settings.telegram_timeout_s,
    )
    sender = Sender(
        sessions=service.sessions,
        telegram=telegram,
        rate_limit=RateLimit(settings.telegram_max_per_second),
        concurrency=settings.sender_concurrency,
        retry=RetryPolicy(settings.retry_first_delay_s, settings.retry_max_delay_s),
        give_up_after_attempts=settings.give_up_after_attempts,
    )
    service.background(
        "sender",
        functools.partial(
            run_worker,
            "deliveries",
            sender.step,
            wakeup,
            poll_interval_s=settings.sender_poll_interval_s,
            batch_size=settings.sender_concurrency,
        ),
    )
    service.on_stop(telegram.aclose)
    return service
