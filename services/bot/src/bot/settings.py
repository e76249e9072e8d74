"""Settings of the bot service, read from `BOT_*` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, ServiceSettings


class BotSettings(ServiceSettings):
    service_name: ClassVar[str] = "bot"
    model_config = SettingsConfigDict(env_prefix="BOT_")

    http_port: Port = 8081
