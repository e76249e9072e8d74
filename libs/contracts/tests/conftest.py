from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from contracts import envelope
from contracts.billing import (
    AutopayChanged,
    CatalogPublished,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutReady,
    CustomerSegmentsChanged,
    LocalizedText,
    PaymentCanceled,
    PaymentMethodOffer,
    PaymentRefunded,
    PaymentSucceeded,
    Plan,
    PlanCatalogPublished,
    PlanOffer,
    PriceExperiment,
    PriceVariant,
    PromoCodeChecked,
    PromoOffer,
    Quote,
    ReferralRewarded,
    RegionalPrice,
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionPlanChanged,
    SubscriptionRemoved,
    SubscriptionShortened,
    SubscriptionSuspended,
    SubscriptionTrafficAdded,
    TelegramInvoice,
    TopUpOffer,
    TrafficPackOffer,
    TrialDecided,
    WalletChanged,
)
from contracts.bot import (
    AccessChangeRequested,
    AutopayConsent,
    AutopayTurnedOff,
    CustomerEmailProvided,
    CustomerLanguageChanged,
    CustomerRegistered,
    CustomerRemindersChanged,
    PromoCodeEntered,
    RequestCheckout,
    RequestTopUp,
    RequestTrafficPack,
    StarsPaymentReceived,
    TrialRequested,
)
from contracts.envelope import Event
from contracts.gateway import (
    PaymentNotificationReceived,
    ProviderNotificationReceived,
    TelegramUpdateReceived,
)
from contracts.money import Money
from contracts.notifier import SendNotification
from contracts.provisioning import (
    AccessGranted,
    AccessLinkIssued,
    AccessProvisioningFailed,
    AccessStatusChanged,
    PanelDriftRepaired,
    PanelHealthChanged,
    RegionOffer,
    RegionsPublished,
    SubscriptionUsage,
    TrafficThresholdReached,
    UsageReported,
)

CUSTOMER_ID = UUID("0b6f3c4e-8d7a-4f7e-9a51-3c2d1e0f9a8b")
CHECKOUT_ID = UUID("7e0f6f8a-3c1e-4b8e-9d8e-2a0b6c5d4e3f")
ORDER_ID = UUID("5d2c9a7e-1b3f-4c6d-8e9f-0a1b2c3d4e5f")
SUBSCRIPTION_ID = UUID("c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5")
YOOKASSA_PAYMENT_ID = "2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f"
PAID_AT = datetime(2025, 1, 15, 10, 1, 5, tzinfo=UTC)
PRICE = Money(amount_minor=29900, currency="RUB")
REFUND_ID = UUID("e4a1c2b3-9d8f-4e7a-b6c5-d4e3f2a1b0c9")
REFUNDED_AT = datetime(2025, 1, 20, 12, 30, tzinfo=UTC)
GIB = 1024**3


def sample_events() -> dict[str, Event]:
    """One realistic instance of every contract event, by event type."""
    period_end = PAID_AT + timedelta(days=30)
    samples: list[Event] = [
        CustomerRegistered(
            customer_id=CUSTOMER_ID,
            telegram_user_id=123456789,
            chat_id=123456789,
            language="ru",
            referral_code="ref_42",
            registered_at=datetime(2025, 1, 15, 9, 58, tzinfo=UTC),
        ),
        CustomerLanguageChanged(
            customer_id=CUSTOMER_ID,
            language="en",
            changed_at=datetime(2025, 1, 15, 9, 59, tzinfo=UTC),
        ),
        RequestCheckout(
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1",
            provider="yookassa",
            return_url="https://t.me/MyVpnBot?start=paid",
            requested_at=datetime(2025, 1, 15, 10, 0, tzinfo=UTC),
            quote_id=UUID("5f0c7d3e-8a51-4c0e-9a7e-2d6b1c4f8e90"),
            region="nl",
            protocol="vless",
            save_payment_method=True,
            autopay_consent=AutopayConsent(
                terms_version="autopay-consent/1",
                language="ru",
                amount=PRICE,
                period_days=30,
                consented_at=datetime(2025, 1, 15, 9, 59, 50, tzinfo=UTC),
            ),
        ),
        PlanCatalogPublished(
            catalog_version=3,
            plans=(
                Plan(
                    plan_id="m1",
                    title=LocalizedText(ru="VPN на 1 месяц", en="VPN for 1 month"),
                    duration_days=30,
                    price=PRICE,
                    traffic_limit_bytes=100 * GIB,
                    active=True,
                ),
                Plan(
                    plan_id="y1",
                    title=LocalizedText(ru="VPN на 1 год", en="VPN for 1 year"),
                    duration_days=365,
                    price=Money(amount_minor=299000, currency="RUB"),
                    traffic_limit_bytes=0,
                    active=False,
                ),
            ),
            published_at=datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
        ),
        CatalogPublished(
            catalog_version=4,
            plans=(
                PlanOffer(
                    plan_id="m1",
                    titles={"ru": "VPN на 1 месяц", "en": "VPN for 1 month", "pt-BR": "1 mês"},
                    duration_days=30,
                    prices=(PRICE, Money(amount_minor=250, currency="XTR")),
                    traffic_limit_bytes=100 * GIB,
                    active=True,
                    quote_id=UUID("5f0c7d3e-8a51-4c0e-9a7e-2d6b1c4f8e90"),
                    regional_prices=(
                        RegionalPrice(
                            region="de",
                            prices=(
                                Money(amount_minor=34900, currency="RUB"),
                                Money(amount_minor=250, currency="XTR"),
                            ),
                            quote_id=UUID("9a3e5c1d-2b4f-4e6a-8c7d-1f2e3d4c5b6a"),
                        ),
                    ),
                ),
                PlanOffer(
                    plan_id="m3",
                    titles={"ru": "VPN на 3 месяца", "en": "VPN for 3 months"},
                    duration_days=90,
                    duration_months=3,
                    prices=(Money(amount_minor=54900, currency="RUB"),),
                    traffic_limit_bytes=100 * GIB,
                    traffic_reset="month",
                    traffic_carry_over=False,
                    active=True,
                    quote_id=UUID("0b7e6a0e-3f7c-4d55-8c8e-6b2a9f1d7c11"),
                ),
            ),
            experiments=(
                PriceExperiment(
                    experiment_id="spring-m3",
                    plan_ids=("m3",),
                    variants=(
                        PriceVariant(
                            name="control",
                            weight=1,
                            quotes=(
                                Quote(
                                    plan_id="m3",
                                    quote_id=UUID("3a9d2f4b-1c6e-4f8a-b2d7-9e0c5a1b3d22"),
                                    prices=(Money(amount_minor=54900, currency="RUB"),),
                                ),
                            ),
                        ),
                        PriceVariant(
                            name="low",
                            weight=1,
                            quotes=(
                                Quote(
                                    plan_id="m3",
                                    quote_id=UUID("c4e8b1a7-6d2f-4e9b-8a3c-1f7d5b9e2a33"),
                                    prices=(Money(amount_minor=44900, currency="RUB"),),
                                ),
                            ),
                        ),
                    ),
                    started_at=datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
                ),
            ),
            topups=(
                TopUpOffer(
                    topup_id="t500",
                    credit=Money(amount_minor=50000, currency="RUB"),
                    prices=(Money(amount_minor=50000, currency="RUB"),),
                ),
            ),
            payment_methods=(
                PaymentMethodOffer(
                    provider="yookassa",
                    currencies=("RUB",),
                    recurring=True,
                    receipt_email_required=True,
                ),
                PaymentMethodOffer(provider="telegram_stars", currencies=("XTR",), recurring=False),
                PaymentMethodOffer(provider="wallet", currencies=("RUB",), recurring=False),
            ),
            wallet_currency="RUB",
            traffic_packs=(
                TrafficPackOffer(
                    pack_id="gb50",
                    traffic_bytes=50 * GIB,
                    prices=(Money(amount_minor=14900, currency="RUB"),),
                ),
            ),
            published_at=datetime(2025, 1, 2, 0, 0, tzinfo=UTC),
        ),
        CustomerEmailProvided(
            customer_id=CUSTOMER_ID,
            email="ivan.petrov@example.ru",
            provided_at=datetime(2025, 1, 15, 9, 59, 30, tzinfo=UTC),
        ),
        RequestTopUp(
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            topup_id="t500",
            provider="wata",
            currency="RUB",
            requested_at=datetime(2025, 1, 15, 10, 0, tzinfo=UTC),
        ),
        CheckoutPaid(
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            order_id=ORDER_ID,
            amount=PRICE,
            balance=Money(amount_minor=20100, currency="RUB"),
        ),
        AutopayChanged(
            customer_id=CUSTOMER_ID,
            enabled=True,
            revision=1,
            provider="yookassa",
            method_title="Bank card *4477",
            amount=PRICE,
            next_charge_at=datetime(2025, 2, 13, 10, 1, 5, tzinfo=UTC),
            period_end=datetime(2025, 2, 14, 10, 1, 5, tzinfo=UTC),
            changed_at=PAID_AT,
        ),
        AutopayTurnedOff(
            customer_id=CUSTOMER_ID, turned_off_at=datetime(2025, 1, 20, 18, 3, tzinfo=UTC)
        ),
        CustomerRemindersChanged(
            customer_id=CUSTOMER_ID,
            reminders=False,
            changed_at=datetime(2025, 1, 21, 8, 0, tzinfo=UTC),
        ),
        PromoCodeEntered(
            request_id=UUID("5b0e2c4e-2f1a-4c3b-9d7e-6a8f9b0c1d2e"),
            customer_id=CUSTOMER_ID,
            code="SPRING20",
            entered_at=datetime(2025, 1, 21, 8, 1, tzinfo=UTC),
        ),
        ReferralRewarded(
            referrer_id=UUID("2a6f1c3e-8b4d-4e7a-9c0f-1d2e3f4a5b6c"),
            newcomer_id=CUSTOMER_ID,
            order_id=ORDER_ID,
            kind="share",
            amount=Money(amount_minor=1990, currency="RUB"),
            rewarded_at=PAID_AT,
        ),
        TrialRequested(
            request_id=UUID("8c1d0e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"),
            customer_id=CUSTOMER_ID,
            telegram_user_id=123456789,
            requested_at=datetime(2025, 1, 21, 8, 2, tzinfo=UTC),
        ),
        TrialDecided(
            request_id=UUID("8c1d0e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"),
            customer_id=CUSTOMER_ID,
            outcome="started",
            period_end=datetime(2025, 1, 24, 8, 2, tzinfo=UTC),
            decided_at=datetime(2025, 1, 21, 8, 2, 1, tzinfo=UTC),
        ),
        PromoCodeChecked(
            request_id=UUID("5b0e2c4e-2f1a-4c3b-9d7e-6a8f9b0c1d2e"),
            customer_id=CUSTOMER_ID,
            code="SPRING20",
            outcome="accepted",
            offer=PromoOffer(
                code="SPRING20",
                kind="percent",
                percent_off=20,
                plan_ids=("m1",),
                valid_until=datetime(2025, 3, 1, tzinfo=UTC),
            ),
            checked_at=datetime(2025, 1, 21, 8, 1, 1, tzinfo=UTC),
        ),
        WalletChanged(
            customer_id=CUSTOMER_ID,
            entry_key=f"wallet-payment:{ORDER_ID}",
            kind="plan_payment",
            credited=False,
            amount=PRICE,
            balance=Money(amount_minor=20100, currency="RUB"),
            order_id=ORDER_ID,
            changed_at=PAID_AT,
        ),
        StarsPaymentReceived(
            kind="payment",
            telegram_payment_charge_id="stxK3fPq9Z0xYh1mVbN2cW",
            invoice_payload=f"order:{ORDER_ID}",
            currency="XTR",
            total_amount=250,
            telegram_user_id=123456789,
            customer_id=CUSTOMER_ID,
            update_id=900000002,
            received_at=datetime(2025, 1, 15, 10, 1, 6, tzinfo=UTC),
        ),
        ProviderNotificationReceived(
            provider="wata",
            body=b'{"transactionId":"3a16a4f0-27b0-09d1-16da-ba8d5c63eae3","transactionStatus":"Paid"}',
            headers={"content-type": "application/json", "x-signature": "bG9vayBhdCBtZQ=="},
            reference="3a16a4f0-27b0-09d1-16da-ba8d5c63eae3",
            received_at=datetime(2025, 1, 15, 10, 1, 11, tzinfo=UTC),
            remote_address="62.84.126.140",
        ),
        CheckoutReady(
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            order_id=ORDER_ID,
            provider="yookassa",
            provider_payment_id=YOOKASSA_PAYMENT_ID,
            confirmation_url=(
                "https://yoomoney.ru/api-pages/v2/payment-confirm/epl?orderId="
                + YOOKASSA_PAYMENT_ID
            ),
            amount=PRICE,
            expires_at=datetime(2025, 1, 15, 11, 0, tzinfo=UTC),
            telegram_invoice=TelegramInvoice(
                title="VPN на 1 месяц",
                description="Доступ к VPN на 30 дней",
                payload=f"order:{ORDER_ID}",
                amount=Money(amount_minor=250, currency="XTR"),
            ),
        ),
        CheckoutFailed(
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            reason_code="plan_inactive",
            reason="plan y1 is not for sale since catalog version 3",
        ),
        PaymentSucceeded(
            order_id=ORDER_ID,
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1",
            provider="yookassa",
            provider_payment_id=YOOKASSA_PAYMENT_ID,
            amount=PRICE,
            paid_at=PAID_AT,
        ),
        PaymentCanceled(
            order_id=ORDER_ID,
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1",
            provider="yookassa",
            provider_payment_id=YOOKASSA_PAYMENT_ID,
            amount=PRICE,
            canceled_at=datetime(2025, 1, 15, 11, 0, tzinfo=UTC),
            cancellation_party="yoo_money",
            cancellation_reason="expired_on_confirmation",
        ),
        SubscriptionActivated(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1",
            order_id=ORDER_ID,
            period_start=PAID_AT,
            period_end=period_end,
            traffic_limit_bytes=100 * GIB,
            region="nl",
            protocol="vless",
        ),
        SubscriptionExtended(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1",
            order_id=UUID("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"),
            period_start=period_end,
            period_end=period_end + timedelta(days=30),
            traffic_limit_bytes=100 * GIB,
            previous_period_end=period_end,
            revision=2,
            access_until=period_end + timedelta(days=32),
        ),
        SubscriptionExtended(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1-pro",
            order_id=UUID("7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
            period_start=period_end + timedelta(days=30),
            period_end=period_end + timedelta(days=60),
            traffic_limit_bytes=300 * GIB,
            previous_period_end=period_end + timedelta(days=30),
            revision=4,
            access_until=period_end + timedelta(days=60),
            next_plan_id="m1",
        ),
        SubscriptionPlanChanged(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1-pro",
            previous_plan_id="m1",
            order_id=UUID("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"),
            period_start=period_end - timedelta(days=10),
            period_end=period_end + timedelta(days=30),
            traffic_limit_bytes=300 * GIB,
            revision=3,
            access_until=period_end + timedelta(days=30),
            traffic_carry_over=False,
            change="upgrade",
            credit_hours=228,
            changed_at=period_end - timedelta(days=10),
        ),
        SubscriptionTrafficAdded(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            order_id=UUID("6e5d4c3b-2a19-4807-b6a5-948372615a0b"),
            added_bytes=50 * GIB,
            extra_traffic_bytes=60 * GIB,
            traffic_limit_bytes=100 * GIB,
            period_end=period_end,
            revision=5,
            added_at=period_end - timedelta(days=5),
        ),
        AccessChangeRequested(
            request_id=UUID("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"),
            customer_id=CUSTOMER_ID,
            subscription_id=SUBSCRIPTION_ID,
            region="de",
            protocol="trojan",
            requested_at=datetime(2025, 2, 1, 9, 0, tzinfo=UTC),
        ),
        RequestTrafficPack(
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            pack_id="gb50",
            provider="yookassa",
            currency="RUB",
            requested_at=datetime(2025, 1, 15, 10, 0, tzinfo=UTC),
        ),
        PaymentRefunded(
            order_id=ORDER_ID,
            checkout_id=CHECKOUT_ID,
            customer_id=CUSTOMER_ID,
            refund_id=REFUND_ID,
            plan_id="m1",
            kind="plan",
            provider="yookassa",
            provider_refund_id="2f8a6b5c-0015-5000-8000-1c2d3e4f5a6b",
            source="operator",
            refunded_to="provider",
            amount=Money(amount_minor=9900, currency="RUB"),
            refunded_total=Money(amount_minor=9900, currency="RUB"),
            full=False,
            refunded_at=REFUNDED_AT,
            period_end=period_end + timedelta(days=20, hours=1, minutes=36),
        ),
        SubscriptionShortened(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1",
            order_id=ORDER_ID,
            refund_id=REFUND_ID,
            period_end=period_end + timedelta(days=20, hours=1, minutes=36),
            previous_period_end=period_end + timedelta(days=30),
            traffic_limit_bytes=100 * GIB,
            revision=3,
            ended=False,
            shortened_at=REFUNDED_AT,
            access_until=period_end + timedelta(days=22, hours=1, minutes=36),
        ),
        SubscriptionSuspended(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1",
            period_end=period_end + timedelta(days=20, hours=1, minutes=36),
            revision=4,
            suspended_at=period_end + timedelta(days=22, hours=1, minutes=36),
            remove_at=period_end + timedelta(days=52, hours=1, minutes=36),
        ),
        SubscriptionRemoved(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            plan_id="m1",
            period_end=period_end + timedelta(days=20, hours=1, minutes=36),
            revision=5,
            removed_at=period_end + timedelta(days=52, hours=1, minutes=36),
        ),
        RegionsPublished(
            catalog_version=3,
            regions=(
                RegionOffer(
                    region="nl",
                    names={"ru": "Нидерланды", "en": "Netherlands"},
                    flag="🇳🇱",
                    available=True,
                    protocols=("trojan", "vless"),
                ),
                RegionOffer(
                    region="de",
                    names={"ru": "Германия", "en": "Germany"},
                    flag="🇩🇪",
                    available=False,
                    alternatives=("nl",),
                ),
            ),
            default_region="nl",
            published_at=datetime(2025, 2, 1, 9, 0, tzinfo=UTC),
        ),
        PanelHealthChanged(
            panel_id="nl-1",
            region="nl",
            health="down",
            previous="healthy",
            reason="login: ConnectError('All connection attempts failed')",
            changed_at=datetime(2025, 2, 1, 9, 30, tzinfo=UTC),
        ),
        PanelDriftRepaired(
            panel_id="nl-1",
            region="nl",
            kind="expiry",
            panel_username="vpn_c0b6f3c4e8d7a",
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            detail="expiry 1738400000 on the panel, 1741000000 desired",
            found_at=datetime(2025, 2, 1, 10, 0, tzinfo=UTC),
        ),
        AccessGranted(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            region="nl",
            panel_id="nl-1",
            panel_username="c0b6f3c4e8d7a",
            subscription_url="https://nl-1.vpn.example/sub/ZGVtb191c2VyMSwxNzk1NzMzODU0pXJz9Gb8RX",
            expires_at=period_end + timedelta(hours=48),
            traffic_limit_bytes=100 * GIB,
            paid_until=period_end,
            protocol="vless",
            links=(
                "vless://3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d@nl-1.vpn.example:443"
                "?security=reality&type=tcp&flow=xtls-rprx-vision&sni=www.example.com"
                "&fp=chrome&pbk=Zk2Lx8Q1&sid=6ba85179#NL%201",
            ),
            stable_url="https://vpn.example/sub/q4Vb2mX9aLr7TnC1wYe5Hs",
        ),
        AccessLinkIssued(
            customer_id=CUSTOMER_ID,
            link_token="q4Vb2mX9aLr7TnC1wYe5Hs",
            link_version=1,
            stable_url="https://vpn.example/sub/q4Vb2mX9aLr7TnC1wYe5Hs",
            replaced=False,
            issued_at=PAID_AT,
        ),
        AccessProvisioningFailed(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            region="nl",
            reason="panel nl-1 answered 502 Bad Gateway to POST /api/user",
            attempts=5,
            retryable=True,
        ),
        AccessStatusChanged(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            status="limited",
            used_traffic_bytes=107374182400,
            traffic_limit_bytes=107374182400,
            observed_at=datetime(2025, 2, 1, 12, 0, 30, tzinfo=UTC),
        ),
        UsageReported(
            panel_id="nl-1",
            usages=(
                SubscriptionUsage(
                    subscription_id=SUBSCRIPTION_ID,
                    customer_id=CUSTOMER_ID,
                    used_traffic_bytes=85899345920,
                    traffic_limit_bytes=107374182400,
                    observed_at=datetime(2025, 2, 1, 12, 0, 30, tzinfo=UTC),
                ),
            ),
        ),
        TrafficThresholdReached(
            subscription_id=SUBSCRIPTION_ID,
            customer_id=CUSTOMER_ID,
            threshold=80,
            used_traffic_bytes=85899345920,
            traffic_limit_bytes=107374182400,
            traffic_reset="none",
            period_end=datetime(2025, 2, 14, 10, 1, 5, tzinfo=UTC),
            observed_at=datetime(2025, 2, 1, 12, 0, 30, tzinfo=UTC),
        ),
        SendNotification(
            notification_id=UUID("3a16a4f0-27b0-49d1-96da-ba8d5c63eae3"),
            customer_id=CUSTOMER_ID,
            template="payment.succeeded",
            params={"plan_title": "VPN на 1 месяц", "amount": "299.00 RUB", "days": 30},
            channel="telegram",
        ),
        PaymentNotificationReceived(
            provider="yookassa",
            provider_payment_id=YOOKASSA_PAYMENT_ID,
            body={
                "type": "notification",
                "event": "payment.succeeded",
                "object": {
                    "id": YOOKASSA_PAYMENT_ID,
                    "status": "succeeded",
                    "paid": True,
                    "amount": {"value": "299.00", "currency": "RUB"},
                    "description": "VPN, 1 месяц, заказ 1042",
                    "metadata": {"order_id": str(ORDER_ID)},
                    "test": True,
                },
            },
            received_at=datetime(2025, 1, 15, 10, 1, 6, tzinfo=UTC),
            remote_address="185.71.76.5",
        ),
        TelegramUpdateReceived(
            update_id=872345001,
            chat_id=123456789,
            update={
                "update_id": 872345001,
                "message": {
                    "message_id": 17,
                    "date": 1736935080,
                    "chat": {"id": 123456789, "first_name": "Иван", "type": "private"},
                    "from": {"id": 123456789, "is_bot": False, "first_name": "Иван"},
                    "text": "/start ref_42",
                },
            },
            received_at=datetime(2025, 1, 15, 9, 58, tzinfo=UTC),
        ),
        CustomerSegmentsChanged(
            customer_id=CUSTOMER_ID,
            segments=("active", "expiring", "language:ru", "region:nl"),
            language="ru",
            region="nl",
            as_of=period_end - timedelta(hours=71),
        ),
    ]
    return {sample.event_type: sample for sample in samples}


@pytest.fixture(scope="session")
def samples() -> dict[str, Event]:
    """One realistic instance of every contract event, by event type."""
    return sample_events()


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, type[Event]]:
    """A copy of the event registry, so a test can define events without leaking them."""
    registry = dict(envelope._REGISTRY)
    monkeypatch.setattr(envelope, "_REGISTRY", registry)
    return registry
