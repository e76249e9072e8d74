"""Settings of the notifier service, read from `NOTIFIER_*` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, ServiceSettings


class NotifierSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifier"
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    http_port: Port = 8084
