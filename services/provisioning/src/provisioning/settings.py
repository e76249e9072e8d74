"""Settings of the provisioning service, read from `PROVISIONING_*` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, ServiceSettings


class ProvisioningSettings(ServiceSettings):
    service_name: ClassVar[str] = "provisioning"
    model_config = SettingsConfigDict(env_prefix="PROVISIONING_")

    http_port: Port = 8083
