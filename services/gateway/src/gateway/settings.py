"""Settings of the gateway service, read from `GATEWAY_*` environment variables."""

from __future__ import annotations

import ipaddress
from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    http_port: Port = 8080

    telegram_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "The secret_token the bot registers with setWebhook; updates without it are refused. "
            "Empty disables the Telegram webhook"
        ),
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description=(
            'Networks of the reverse proxies in front of the gateway, e.g. ["10.0.0.0/8"]; '
            "the client address is taken from their X-Forwarded-For"
        ),
    )

    provider_source_check: bool | None = Field(
        default=None,
        description=(
            "Accept payment webhooks only from the networks a provider publishes (YooKassa, "
            "WATA); on in production unless set"
        ),
    )

    subscription_title: str = Field(
        default="VPN",
        min_length=1,
        max_length=64,
        description="The profile name apps show for the stable /sub/{token} link",
    )
    subscription_support_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="Where apps send a customer who taps 'support' (e.g. the bot's t.me link)",
    )

    @property
    def check_provider_sources(self) -> bool:
        if self.provider_source_check is None:
            return self.is_production
        return self.provider_source_check

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(network) for network in self.trusted_proxies]

    @model_validator(mode="after")
    def _valid(self) -> Self:
        self.trusted_proxy_networks  # noqa: B018 - raises on a malformed network
        secret = self.telegram_webhook_secret.get_secret_value()
        if secret and (len(secret) > 256 or not all(c.isalnum() or c in "_-" for c in secret)):
            raise ValueError(
                "GATEWAY_TELEGRAM_WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        return self
