"""Composition root of the billing service: everything it runs is assembled here."""

from __future__ import annotations

import functools
from datetime import timedelta

from billing.autopay import turned_off
from billing.autopay_worker import AutopayCharges
from billing.catalog import PaymentMethods, publish_if_changed
from billing.checkout import CheckoutPayments, Checkouts
from billing.customers import record_customer, record_email, record_language
from billing.expiry import ExpiredPayments
from billing.lifecycle import REFERRAL, Lifecycle
from billing.models import metadata
from billing.notifications import NotificationInbox, NotificationVerifier, Received
from billing.promos import PromoEntries
from billing.providers import WALLET, Providers
from billing.providers.base import PaymentProvider
from billing.providers.cryptopay import CryptoPay, CryptoPaySettings
from billing.providers.telegram_stars import TelegramStars, TelegramStarsSettings
from billing.providers.wata import Wata, WataSettings
from billing.providers.yookassa import YooKassa, YooKassaClient
from billing.referrals import Referrals
from billing.refund_worker import RefundPayouts
from billing.regions import mirror_regions
from billing.segments_worker import SegmentsWorker
from billing.settings import BillingSettings
from billing.subscriptions import record_regions
from billing.trials import Trials
from billing.usage import record_usage
from chassis.db import transaction
from chassis.service import Service
from chassis.timers import TimerWorker
from chassis.worker import Handoff, RetryPolicy, Wakeup, run_worker
from contracts.billing import PaymentRefunded
from contracts.bot import (
    AutopayTurnedOff,
    CustomerEmailProvided,
    CustomerLanguageChanged,
    CustomerRegistered,
    PromoCodeEntered,
    RequestCheckout,
    RequestTopUp,
    RequestTrafficPack,
    StarsPaymentReceived,
    TrialRequested,
)
from contracts.gateway import PaymentNotificationReceived, ProviderNotificationReceived
from contracts.provisioning import (
    AccessGranted,
    RegionsPublished,
    UsageReported,
)


def build_providers(settings: BillingSettings) -> Providers:
    """The providers named in ``BILLING_PAYMENT_METHODS``, in that order."""
    factories = {
        "yookassa": _yookassa,
        "wata": _wata,
        "cryptopay": _cryptopay,
        "telegram_stars": _telegram_stars,
    }
    providers: list[PaymentProvider] = [
        factories[name](settings) for name in settings.methods if name != WALLET
    ]
    return Providers(providers)


def _yookassa(settings: BillingSettings) -> PaymentProvider:
    client = YooKassaClient(
        base_url=settings.yookassa_api_url,
        shop_id=settings.yookassa_shop_id,
        secret_key=settings.yookassa_secret_key.get_secret_value(),
        timeout_s=settings.yookassa_timeout_s,
    )
    return YooKassa(client, return_url=settings.yookassa_return_url)


def _wata(settings: BillingSettings) -> PaymentProvider:
    return Wata(
        WataSettings(
            access_token=settings.wata_access_token.get_secret_value(),
            # The gateway lets through only WATA's addresses (in production); the signature
            # is what proves a webhook here.
            check_source_address=False,
            api_url=settings.wata_api_url,
            link_lifetime=timedelta(seconds=settings.wata_link_lifetime_s),
            success_redirect_url=settings.bot_url,
            fail_redirect_url=settings.bot_url,
        )
    )


def _cryptopay(settings: BillingSettings) -> PaymentProvider:
    return CryptoPay(
        CryptoPaySettings(
            token=settings.cryptopay_token.get_secret_value(),
            bot_url=settings.bot_url,
            api_url=settings.cryptopay_api_url,
            accepted_assets=tuple(
                asset.strip() for asset in settings.cryptopay_accepted_assets.split(",") if asset
            ),
            expires_in_s=settings.cryptopay_invoice_lifetime_s,
            transfer_refunds=settings.cryptopay_transfer_refunds,
        )
    )


def _telegram_stars(settings: BillingSettings) -> PaymentProvider:
    return TelegramStars(
        TelegramStarsSettings(
            bot_token=settings.telegram_bot_token.get_secret_value(),
            api_url=settings.telegram_api_url,
        )
    )


def payment_methods(settings: BillingSettings, providers: Providers) -> PaymentMethods:
    """The ways to pay the catalog offers, as configured."""
    return PaymentMethods.of(
        providers,
        wallet_currency=settings.wallet_currency if WALLET in settings.methods else None,
        receipts=settings.receipts_enabled,
        autopay=settings.autopay_enabled,
    )


def build(settings: BillingSettings) -> Service:
    service = Service(settings, metadata, migrations="billing:migrations")
    providers = build_providers(settings)
    methods = payment_methods(settings, providers)
    wallet_currency = methods.wallet_currency

    checkout_wakeup = Wakeup()
    checkouts = Checkouts(
        providers,
        service.outbox,
        checkout_wakeup,
        wallet_currency=wallet_currency,
        receipts=settings.receipts_enabled,
        autopay=settings.autopay_enabled,
        grace_hours=settings.grace_hours,
        clock=settings.clock(),
    )
    payments = CheckoutPayments(
        providers,
        service.sessions,
        service.outbox,
        attempts=settings.checkout_attempts,
        retry=RetryPolicy(
            settings.checkout_retry_first_delay_s, settings.checkout_retry_max_delay_s
        ),
        receipt_vat_code=settings.receipt_vat_code,
    )
    refund_payouts = RefundPayouts(
        providers,
        service.sessions,
        service.outbox,
        attempts=settings.refund_attempts,
        retry=RetryPolicy(settings.refund_retry_first_delay_s, settings.refund_retry_max_delay_s),
        receipt_vat_code=settings.receipt_vat_code,
    )
    expired = ExpiredPayments(
        providers,
        service.sessions,
        service.outbox,
        grace=timedelta(seconds=settings.expired_payment_grace_s),
        recheck=timedelta(seconds=settings.expired_payment_recheck_s),
        checks=settings.expired_payment_checks,
    )
    renewals = AutopayCharges(
        providers,
        service.sessions,
        service.outbox,
        schedule=settings.autopay_schedule,
        unavailable_attempts=settings.autopay_unavailable_attempts,
        # Well inside YooKassa's 24 hours of an idempotence key: 12 tries take under an hour.
        unavailable_retry=RetryPolicy(first_delay_s=5.0, max_delay_s=600.0),
        pending_timeout=timedelta(seconds=settings.autopay_pending_timeout_s),
        receipts=settings.receipts_enabled,
        receipt_vat_code=settings.receipt_vat_code,
        grace_hours=settings.grace_hours,
    )
    # Referral rewards are decided by a due time each rewarding payment sets.
    referrals = Referrals(settings.referral_terms)
    due_times = TimerWorker(
        "billing",
        service.sessions,
        service.outbox,
        settings.clock(),
        {**Lifecycle(settings.lifecycle_terms).handlers, REFERRAL: referrals.due},
        retry=RetryPolicy(5.0, 300.0),
    )
    segments = SegmentsWorker(
        service.sessions,
        service.outbox,
        settings.clock(),
        settings.segment_terms,
        batch_size=settings.segments_batch_size,
    )
    handoff: Handoff[Received] = Handoff(Wakeup())
    inbox = NotificationInbox(handoff)
    verifier = NotificationVerifier(
        providers,
        service.sessions,
        service.outbox,
        handoff,
        retry=RetryPolicy(
            settings.notification_retry_first_delay_s, settings.notification_retry_max_delay_s
        ),
    )

    consumer = service.consumer()
    consumer.handles(RequestCheckout)(checkouts.plan)
    consumer.handles(RequestTopUp)(checkouts.topup)
    consumer.handles(RequestTrafficPack)(checkouts.traffic)
    consumer.handles(ProviderNotificationReceived)(inbox.webhook)
    consumer.handles(PaymentNotificationReceived)(inbox.legacy_webhook)
    consumer.handles(StarsPaymentReceived)(inbox.stars_payment)
    consumer.handles(CustomerRegistered)(record_customer)
    consumer.handles(CustomerLanguageChanged)(record_language)
    consumer.handles(CustomerEmailProvided)(record_email)
    consumer.handles(AutopayTurnedOff)(turned_off)
    promos = PromoEntries(grace_hours=settings.grace_hours, clock=settings.clock())
    consumer.handles(PromoCodeEntered)(promos.entered)
    consumer.handles(TrialRequested)(Trials(settings.trial_terms, settings.clock()).requested)
    # A full refund of a rewarded payment takes the reward back (refunds are rare: read
    # from billing's own events, after the fact).
    consumer.handles(PaymentRefunded)(referrals.refunded)
    # The region of each subscription's access, for segments (billing.segments_worker).
    consumer.handles_batch(AccessGranted)(record_regions)
    consumer.handles(UsageReported)(record_usage)
    # Provisioning's regions (what a regional price may name): its compacted catalog is
    # read from the start by a group of its own.
    service.consumer("regions").handles(RegionsPublished)(mirror_regions)

    async def publish_catalog() -> None:
        async with transaction(service.sessions) as session:
            await publish_if_changed(session, service.outbox, methods)

    service.background("catalog-publisher", publish_catalog)
    for name, worker, wakeup, poll_interval_s in (
        ("checkout-payments", payments, checkout_wakeup, 1.0),
        ("notification-verifier", verifier, handoff.wakeup, 1.0),
        # Refunds are recorded by another process (the command): found by polling.
        ("refund-payouts", refund_payouts, Wakeup(), 1.0),
        # Nothing announces an expiry, and minutes late is on time: found by polling.
        ("expired-payments", expired, Wakeup(), 15.0),
        # Renewals are due by the clock, and what payments record for them is found by
        # polling (a few seconds late is on time).
        ("autopay", renewals, Wakeup(), settings.autopay_poll_s),
        # Reminders are due by the clock: a few seconds late is on time.
        ("due-times", due_times, Wakeup(), settings.timers_poll_s),
        # Segments are due by the clock or marked by what changed a customer's facts: found
        # by polling (a few seconds late is on time).
        ("segments", segments, Wakeup(), settings.segments_poll_s),
    ):
        service.background(
            name,
            functools.partial(
                run_worker,
                name,
                worker.step,
                wakeup,
                poll_interval_s=poll_interval_s,
                batch_size=worker.batch_size,
            ),
        )
    service.on_stop(providers.aclose)
    return service
