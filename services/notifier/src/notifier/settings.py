"""Settings of the notifier service, read from `NOTIFIER_*` environment variables."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, SandboxCheck, ServiceSettings, sandbox_setting


class NotifierSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifier"
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    http_port: Port = 8084

    telegram_api_url: str = sandbox_setting(
        SandboxCheck.URL,
        default="https://api.telegram.org",
        description="Bot API server; the sandbox's in development",
    )
    telegram_bot_token: SecretStr = sandbox_setting(
        SandboxCheck.TOKEN, default=SecretStr(""), description="The bot's token from @BotFather"
    )
    telegram_timeout_s: float = Field(default=10.0, gt=0)
    telegram_max_per_second: float = Field(
        default=30.0,
        ge=0,
        description=(
            "Messages per second across all chats; Telegram allows about 30 (1000 with paid "
            "broadcasts). 0 means no limit of our own"
        ),
    )
    sender_concurrency: int = Field(default=16, ge=1)
    sender_poll_interval_s: float = Field(default=2.0, gt=0)
    retry_first_delay_s: float = Field(default=1.0, gt=0)
    retry_max_delay_s: float = Field(default=300.0, gt=0)
    give_up_after_attempts: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _production_needs_a_token(self) -> Self:
        if self.is_production and not self.telegram_bot_token.get_secret_value():
            raise ValueError("NOTIFIER_TELEGRAM_BOT_TOKEN is required in production")
        return self
