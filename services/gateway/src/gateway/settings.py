"""Settings of the gateway service, read from `GATEWAY_*` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    http_port: Port = 8080
