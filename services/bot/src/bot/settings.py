"""Settings of the bot service, read from `BOT_*` environment variables."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, SandboxCheck, ServiceSettings, sandbox_setting


class BotSettings(ServiceSettings):
    service_name: ClassVar[str] = "bot"
    model_config = SettingsConfigDict(env_prefix="BOT_")

    http_port: Port = 8081

    telegram_api_url: str = sandbox_setting(
        SandboxCheck.URL,
        default="https://api.telegram.org",
        description="Bot API server; the sandbox's in development",
    )
    telegram_bot_token: SecretStr = sandbox_setting(
        SandboxCheck.TOKEN, default=SecretStr(""), description="The bot's token from @BotFather"
    )
    update_mode: Literal["webhook", "polling"] = Field(
        default="webhook",
        description=(
            "webhook: Telegram posts updates to the gateway, which writes them to Kafka; "
            "polling: this service calls getUpdates itself (local development, one replica)"
        ),
    )
    webhook_url: str = Field(
        default="",
        description="Public URL of the gateway's /webhooks/telegram, registered with setWebhook",
    )
    webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="secret_token for setWebhook; the gateway must be given the same one",
    )
    checkout_slow_after_s: float = Field(
        default=10.0, gt=0, description="Tell the customer the payment link is still coming"
    )
    telegram_timeout_s: float = Field(default=15.0, gt=0, description="Bot API request timeout")
    telegram_retry_first_delay_s: float = Field(default=1.0, gt=0)
    telegram_retry_max_delay_s: float = Field(default=60.0, gt=0)
    checkout_screen_give_up_after_attempts: int = Field(
        default=40,
        ge=1,
        description="Tries to show a payment link while Telegram fails (about 35 minutes)",
    )

    @model_validator(mode="after")
    def _webhook_needs_url_and_secret(self) -> Self:
        webhook_incomplete = not self.webhook_url or not self.webhook_secret.get_secret_value()
        if self.update_mode == "webhook" and self.is_production and webhook_incomplete:
            raise ValueError("BOT_WEBHOOK_URL and BOT_WEBHOOK_SECRET are required for webhooks")
        if self.is_production and not self.telegram_bot_token.get_secret_value():
            raise ValueError("BOT_TELEGRAM_BOT_TOKEN is required in production")
        return self
