"""Settings of the billing service, read from `BILLING_*` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, ServiceSettings


class BillingSettings(ServiceSettings):
    service_name: ClassVar[str] = "billing"
    model_config = SettingsConfigDict(env_prefix="BILLING_")

    http_port: Port = 8082
