"""Composition root of the billing service: everything it runs is assembled here."""

from __future__ import annotations

import functools

from billing.catalog import publish_if_changed
from billing.checkout import CheckoutPayments, Checkouts
from billing.customers import record_customer, record_language
from billing.models import metadata
from billing.payments import PaymentNotifications
from billing.settings import BillingSettings
from billing.yookassa import YooKassaClient
from chassis.db import transaction
from chassis.service import Service
from chassis.worker import RetryPolicy, Wakeup, run_worker
from contracts.bot import CustomerLanguageChanged, CustomerRegistered, RequestCheckout
from contracts.gateway import PaymentNotificationReceived


def build(settings: BillingSettings) -> Service:
    service = Service(settings, metadata, migrations="billing:migrations")
    yookassa = YooKassaClient(
        base_url=settings.yookassa_api_url,
        shop_id=settings.yookassa_shop_id,
        secret_key=settings.yookassa_secret_key.get_secret_value(),
        timeout_s=settings.yookassa_timeout_s,
    )
    checkout_wakeup = Wakeup()
    checkouts = Checkouts(checkout_wakeup)
    payments = CheckoutPayments(
        yookassa,
        service.sessions,
        service.outbox,
        return_url=settings.yookassa_return_url,
        attempts=settings.checkout_attempts,
        retry=RetryPolicy(
            settings.checkout_retry_first_delay_s, settings.checkout_retry_max_delay_s
        ),
    )
    notifications = PaymentNotifications(
        yookassa, check_source_address=settings.check_source_address
    )

    consumer = service.consumer()
    consumer.handles(RequestCheckout)(checkouts.handle)
    consumer.handles(PaymentNotificationReceived)(notifications.handle)
    consumer.handles(CustomerRegistered)(record_customer)
    consumer.handles(CustomerLanguageChanged)(record_language)

    async def publish_catalog() -> None:
        async with transaction(service.sessions) as session:
            await publish_if_changed(session, service.outbox)

    service.background("catalog-publisher", publish_catalog)
    service.background(
        "checkout-payments",
        functools.partial(
            run_worker,
            "checkout-payments",
            payments.step,
            checkout_wakeup,
            poll_interval_s=1.0,
            batch_size=payments.batch_size,
        ),
    )
    service.on_stop(yookassa.aclose)
    return service
