"""Settings of the provisioning service, read from `PROVISIONING_*` environment variables."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, SandboxCheck, ServiceSettings, sandbox_setting


class ProvisioningSettings(ServiceSettings):
    service_name: ClassVar[str] = "provisioning"
    model_config = SettingsConfigDict(env_prefix="PROVISIONING_")

    http_port: Port = 8083

    region: str = Field(default="eu", pattern=r"^[a-z][a-z0-9-]{0,31}$")
    panel_id: str = Field(default="eu-1", pattern=r"^[a-z][a-z0-9-]{0,63}$")
    marzban_url: str = sandbox_setting(
        SandboxCheck.URL,
        default="http://127.0.0.1:8000",
        description="Base URL of the Marzban panel's REST API (the one serving /api/...)",
    )
    marzban_username: str = Field(default="admin", description="A sudo admin of the panel")
    marzban_password: SecretStr = sandbox_setting(SandboxCheck.TOKEN, default=SecretStr(""))
    marzban_subscription_base_url: str | None = Field(
        default=None,
        description=(
            "Public base URL that turns the panel's relative subscription links into absolute "
            "ones (XRAY_SUBSCRIPTION_URL_PREFIX unset); the panel URL if unset"
        ),
    )
    marzban_protocols: list[str] = Field(
        default=["vless"], description="Protocols every user gets, on all their inbounds"
    )
    marzban_timeout_s: float = Field(default=10.0, gt=0)

    worker_concurrency: int = Field(default=16, ge=1, description="Panel calls in flight")
    worker_poll_interval_s: float = Field(default=2.0, gt=0)
    panel_watch_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often the panel's users are read for statuses it set by itself",
    )
    worker_lease_s: float = Field(
        default=60.0,
        gt=0,
        description=(
            "How long a claimed placement is left to its worker before another may retry it; "
            "longer than the panel timeout"
        ),
    )
    retry_first_delay_s: float = Field(default=1.0, gt=0)
    retry_max_delay_s: float = Field(default=60.0, gt=0)
    report_failure_after_attempts: int = Field(
        default=3, ge=1, description="Tell the customer access is delayed after this many tries"
    )

    @model_validator(mode="after")
    def _lease_outlives_a_panel_call(self) -> Self:
        if self.worker_lease_s <= self.marzban_timeout_s * 3:
            raise ValueError(
                "PROVISIONING_WORKER_LEASE_S must exceed three panel calls (login, create, "
                "modify: 3 x PROVISIONING_MARZBAN_TIMEOUT_S)"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_a_panel_password(self) -> Self:
        if self.is_production and not self.marzban_password.get_secret_value():
            raise ValueError("PROVISIONING_MARZBAN_PASSWORD is required in production")
        return self
