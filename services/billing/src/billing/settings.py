"""Settings of the billing service, read from `BILLING_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from billing.domain.autopay import Schedule
from billing.domain.lifecycle import Terms
from billing.domain.referrals import ReferralTerms
from billing.domain.segments import SegmentTerms
from billing.domain.trials import TrialTerms
from chassis.settings import Port, SandboxCheck, ServiceSettings, sandbox_setting

KNOWN_METHODS = ("yookassa", "wata", "telegram_stars", "cryptopay", "wallet")


class BillingSettings(ServiceSettings):
    service_name: ClassVar[str] = "billing"
    model_config = SettingsConfigDict(env_prefix="BILLING_")

    http_port: Port = 8082

    yookassa_api_url: str = sandbox_setting(
        SandboxCheck.URL,
        default="https://api.yookassa.ru/v3",
        description="YooKassa API base URL; the sandbox's in development",
    )
    yookassa_shop_id: str = Field(default="", description="Shop id (the Basic auth user name)")
    yookassa_secret_key: SecretStr = sandbox_setting(
        SandboxCheck.TOKEN,
        default=SecretStr(""),
        description="Secret key (the Basic auth password); test shops' keys start with test_",
    )
    yookassa_return_url: str = Field(
        default="https://t.me/",
        description="Where YooKassa sends the customer after paying, e.g. the bot's t.me link",
    )
    yookassa_timeout_s: float = Field(default=10.0, gt=0)
    bot_url: str = Field(
        default="https://t.me/",
        description="The bot's t.me link: where WATA and Crypto Pay send the customer back",
    )
    wata_api_url: str = sandbox_setting(
        SandboxCheck.URL,
        default="https://api.wata.pro/api/h2h",
        description="WATA H2H API base URL (https://api-sandbox.wata.pro/api/h2h for its sandbox)",
    )
    wata_access_token: SecretStr = sandbox_setting(
        SandboxCheck.TOKEN,
        default=SecretStr(""),
        description="WATA terminal access token (JWT) from the merchant cabinet",
    )
    wata_link_lifetime_s: int = Field(
        default=3600, ge=600, le=30 * 86400, description="How long a WATA payment link stays open"
    )
    cryptopay_api_url: str = sandbox_setting(
        SandboxCheck.URL,
        default="https://pay.crypt.bot/api",
        description="Crypto Pay API base URL (https://testnet-pay.crypt.bot/api for testnet)",
    )
    cryptopay_token: SecretStr = sandbox_setting(
        SandboxCheck.TOKEN,
        default=SecretStr(""),
        description="Crypto Pay app token from @CryptoBot (Crypto Pay → My Apps)",
    )
    cryptopay_accepted_assets: str = Field(
        default="USDT,TON,BTC", description="Assets a customer may pay an invoice with"
    )
    cryptopay_invoice_lifetime_s: int = Field(default=3600, ge=60, le=2678400)
    cryptopay_transfer_refunds: bool = Field(
        default=False,
        description="Refund by transfer to the customer (needs transfers enabled for the app)",
    )
    telegram_api_url: str = sandbox_setting(
        SandboxCheck.URL,
        default="https://api.telegram.org",
        description="Bot API base URL, for Telegram Stars invoices and refunds",
    )
    telegram_bot_token: SecretStr = sandbox_setting(
        SandboxCheck.TOKEN,
        default=SecretStr(""),
        description="The bot's token (the same as BOT_TELEGRAM_BOT_TOKEN), for Telegram Stars",
    )
    payment_methods: str = Field(
        default="yookassa,wallet",
        description=(
            "Ways to pay, comma-separated, in the order customers are offered them: yookassa, "
            "wata, telegram_stars, cryptopay, wallet. Each provider needs its credentials."
        ),
    )
    wallet_currency: str = Field(
        default="RUB",
        pattern=r"^[A-Z]{3}$",
        description="Currency of customer balances (when `wallet` is among the methods)",
    )
    receipts_enabled: bool = Field(
        default=False,
        description="Send 54-FZ receipts with YooKassa payments (asks customers for an e-mail)",
    )
    receipt_vat_code: int = Field(
        default=1, ge=1, le=12, description="YooKassa vat_code of receipt lines (1: no VAT)"
    )
    notification_retry_first_delay_s: float = Field(default=1.0, gt=0)
    notification_retry_max_delay_s: float = Field(default=300.0, gt=0)
    checkout_attempts: int = Field(
        default=3, ge=1, description="Tries to create a payment before the checkout fails"
    )
    checkout_retry_first_delay_s: float = Field(default=0.5, gt=0)
    checkout_retry_max_delay_s: float = Field(default=5.0, gt=0)
    refund_attempts: int = Field(
        default=5,
        ge=1,
        description="Tries to ask a provider for a refund before it fails for an operator",
    )
    expired_payment_grace_s: float = Field(
        default=120.0,
        ge=0,
        description="How long past its expiry a payment is left to its provider's own word",
    )
    expired_payment_recheck_s: float = Field(
        default=300.0, gt=0, description="Between two looks at a payment still open past expiry"
    )
    expired_payment_checks: int = Field(
        default=6,
        ge=1,
        description="Looks at a payment still open past expiry before it is closed as expired",
    )
    autopay_enabled: bool = Field(
        default=False,
        description=(
            "Offer automatic renewal with saved YooKassa methods (a live shop needs "
            "autopayments enabled by its YooKassa manager first)"
        ),
    )
    autopay_charge_before_s: float = Field(
        default=86400.0, gt=0, description="How long before a period ends its renewal is charged"
    )
    autopay_notice_before_s: float = Field(
        default=3 * 86400.0,
        gt=0,
        description="How long before a period ends the customer is reminded of the charge",
    )
    autopay_retry_delays_s: str = Field(
        default="21600,43200",
        pattern=r"^\s*(\d+(\.\d+)?\s*(,\s*\d+(\.\d+)?\s*)*)?$",
        description="After a declined renewal, the pauses before each new try (comma-separated)",
    )
    autopay_unavailable_attempts: int = Field(
        default=12,
        ge=1,
        description="Tries of one renewal charge while the provider does not answer",
    )
    autopay_pending_timeout_s: float = Field(
        default=3600.0,
        gt=0,
        description="A renewal the provider leaves pending this long is looked up by billing",
    )
    autopay_poll_s: float = Field(
        default=5.0, gt=0, description="How often billing looks for renewals and reminders due"
    )
    timers_poll_s: float = Field(
        default=5.0, gt=0, description="How often due times (reminders) are looked for"
    )
    grace_hours: int = Field(
        default=48,
        ge=0,
        le=24 * 30,
        description=(
            "How long past its end an unpaid subscription is still served before it is "
            "suspended (taken by each order when it is created)"
        ),
    )
    retention_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="How long a suspended subscription's panel user is kept before removal",
    )
    trial_days: int = Field(
        default=3, ge=0, le=90, description="The free trial's length in days; 0: no trials"
    )
    trial_traffic_gb: int = Field(
        default=5, ge=0, le=10_000, description="The free trial's traffic in GiB; 0: unlimited"
    )
    trial_per_hour: int = Field(
        default=100,
        ge=1,
        description="At most this many trials start in any hour, for everyone (bot farms)",
    )
    referral_reward: Literal["share", "days", "off"] = Field(
        default="share",
        description=(
            "What a referred customer's first payment gives the referrer: a share of it to "
            "their wallet (only in the wallet's currency; days otherwise), days, or nothing"
        ),
    )
    referral_share_percent: int = Field(default=10, ge=1, le=100)
    referral_days: int = Field(
        default=7, ge=0, le=365, description="Days for the referrer (a 'days' reward)"
    )
    referral_newcomer_days: int = Field(
        default=0, ge=0, le=365, description="Days for the newcomer too, with their payment"
    )
    referral_daily_cap: int = Field(
        default=10, ge=0, description="At most this many rewards per referrer in 24 hours"
    )
    refund_retry_first_delay_s: float = Field(default=1.0, gt=0)
    refund_retry_max_delay_s: float = Field(default=60.0, gt=0)
    segments_expiring_hours: int = Field(
        default=72,
        ge=0,
        le=24 * 90,
        description="A customer is in the 'expiring' segment this long before their end",
    )
    segments_churned_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="A payer is in the 'churned_30d' segment this long after an unrenewed end",
    )
    segments_poll_s: float = Field(
        default=5.0, gt=0, description="How often billing looks for customers' segments due"
    )
    segments_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Customers' segments computed per transaction"
    )

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.payment_methods.split(",") if m.strip())

    @property
    def trial_terms(self) -> TrialTerms:
        return TrialTerms(
            days=self.trial_days,
            traffic_limit_bytes=self.trial_traffic_gb * 1024**3,
            per_hour=self.trial_per_hour,
        )

    @property
    def referral_terms(self) -> ReferralTerms:
        return ReferralTerms(
            reward=self.referral_reward,
            share_percent=self.referral_share_percent,
            days=self.referral_days,
            newcomer_days=self.referral_newcomer_days,
            daily_cap=self.referral_daily_cap,
            wallet_currency=self.wallet_currency if "wallet" in self.methods else None,
        )

    @property
    def segment_terms(self) -> SegmentTerms:
        return SegmentTerms(
            expiring_within=timedelta(hours=self.segments_expiring_hours),
            churned_within=timedelta(days=self.segments_churned_days),
        )

    @property
    def lifecycle_terms(self) -> Terms:
        return Terms(retention=timedelta(days=self.retention_days))

    @property
    def autopay_schedule(self) -> Schedule:
        return Schedule(
            charge_before=timedelta(seconds=self.autopay_charge_before_s),
            notice_before=timedelta(seconds=self.autopay_notice_before_s),
            retry_delays=tuple(
                timedelta(seconds=float(delay))
                for delay in self.autopay_retry_delays_s.split(",")
                if delay.strip()
            ),
        )

    @model_validator(mode="after")
    def _autopay_schedule_is_sound(self) -> Self:
        if self.autopay_notice_before_s < self.autopay_charge_before_s:
            raise ValueError(
                "BILLING_AUTOPAY_NOTICE_BEFORE_S must be at least BILLING_AUTOPAY_CHARGE_BEFORE_S:"
                " the reminder comes before the charge"
            )
        return self

    @model_validator(mode="after")
    def _known_methods(self) -> Self:
        unknown = set(self.methods) - set(KNOWN_METHODS)
        if unknown:
            raise ValueError(f"BILLING_PAYMENT_METHODS: unknown {', '.join(sorted(unknown))}")
        return self

    @model_validator(mode="after")
    def _methods_have_credentials(self) -> Self:
        needs = {
            "wata": ("BILLING_WATA_ACCESS_TOKEN", self.wata_access_token),
            "cryptopay": ("BILLING_CRYPTOPAY_TOKEN", self.cryptopay_token),
            "telegram_stars": ("BILLING_TELEGRAM_BOT_TOKEN", self.telegram_bot_token),
        }
        for method, (variable, secret) in needs.items():
            if method in self.methods and not secret.get_secret_value():
                raise ValueError(f"BILLING_PAYMENT_METHODS names {method}: {variable} is required")
        return self

    @model_validator(mode="after")
    def _production_needs_a_shop(self) -> Self:
        if (
            "yookassa" in self.methods
            and self.is_production
            and not (self.yookassa_shop_id and self.yookassa_secret_key.get_secret_value())
        ):
            raise ValueError(
                "BILLING_YOOKASSA_SHOP_ID and BILLING_YOOKASSA_SECRET_KEY are required "
                "in production"
            )
        return self
