"""Settings of the billing service, read from `BILLING_*` environment variables."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, SandboxCheck, ServiceSettings, sandbox_setting


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
    yookassa_check_source_address: bool | None = Field(
        default=None,
        description=(
            "Accept notifications only from YooKassa's published networks; "
            "on in production unless set"
        ),
    )
    checkout_attempts: int = Field(
        default=3, ge=1, description="Tries to create a payment before the checkout fails"
    )
    checkout_retry_first_delay_s: float = Field(default=0.5, gt=0)
    checkout_retry_max_delay_s: float = Field(default=5.0, gt=0)

    @property
    def check_source_address(self) -> bool:
        if self.yookassa_check_source_address is None:
            return self.is_production
        return self.yookassa_check_source_address

    @model_validator(mode="after")
    def _production_needs_a_shop(self) -> Self:
        if self.is_production and not (
            self.yookassa_shop_id and self.yookassa_secret_key.get_secret_value()
        ):
            raise ValueError(
                "BILLING_YOOKASSA_SHOP_ID and BILLING_YOOKASSA_SECRET_KEY are required "
                "in production"
            )
        return self
