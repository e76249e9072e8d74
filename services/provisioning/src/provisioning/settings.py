"""Settings of the provisioning service, read from `PROVISIONING_*` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.settings import Port, SandboxCheck, ServiceSettings, sandbox_setting


class ProvisioningSettings(ServiceSettings):
    service_name: ClassVar[str] = "provisioning"
    model_config = SettingsConfigDict(env_prefix="PROVISIONING_")

    http_port: Port = 8083

    # Regions and panels are provisioning's own data (``python -m provisioning region|panel``).
    # The settings below name one region (added if missing) and one panel, whose connection
    # (URL, credentials, protocols, sandbox) they keep at every start: a fresh install works
    # on them alone. Capacity, weight and the other panels are the command's.
    region: str = Field(
        default="eu",
        pattern=r"^[a-z][a-z0-9-]{0,31}$",
        description="The region of customers who chose none, and of the panel below",
    )
    region_names: dict[str, str] = Field(
        default={"ru": "Европа", "en": "Europe"}, description="The region's names, if added"
    )
    region_flag: str = Field(default="🇪🇺", max_length=16)
    panel_id: str = Field(default="eu-1", pattern=r"^[a-z][a-z0-9-]{0,63}$")
    marzban_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "Base URL of the Marzban panel's REST API (the one serving /api/...); a panel on "
            "this host (loopback) is a real one unless PROVISIONING_MARZBAN_SANDBOX says not"
        ),
    )
    marzban_sandbox: bool = Field(
        default=False,
        description="The panel above is an emulator: production refuses to place users on it",
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
    health_probe_interval_s: float = Field(
        default=15.0, gt=0, description="How often each panel is probed (login and system)"
    )
    health_down_after: int = Field(
        default=3, ge=1, description="Consecutive failed probes before a panel is down"
    )
    health_slow_ms: int = Field(
        default=2000, ge=1, description="A probe answered slower than this is degraded"
    )
    failover_after_s: float = Field(
        default=60.0,
        ge=0,
        description="How long a panel is down before its customers are moved to another",
    )
    failover_poll_s: float = Field(default=5.0, gt=0, description="How often failover looks")
    directory_refresh_s: float = Field(
        default=10.0,
        gt=0,
        description="How often regions and panels are read again (changes by the command)",
    )

    link_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+[^/\s]$",
        description=(
            "Public address of the gateway's stable links, e.g. https://vpn.example.com/sub: "
            "customers are given {this}/{token}, which stays the same across failovers and "
            "moves. Unset: they are given the panel's own link"
        ),
    )

    @field_validator("link_base_url", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value

    worker_concurrency: int = Field(default=16, ge=1, description="Panel calls in flight")
    worker_poll_interval_s: float = Field(default=2.0, gt=0)
    panel_watch_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often the panel's users are read for statuses it set by itself",
    )
    reconcile_interval_s: float = Field(
        default=300.0,
        gt=0,
        description=(
            "How often every panel's users are compared with the placements and drift repaired"
        ),
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
        # The version is read once per client, not per attempt: three calls, as before.
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
        if self.is_production and self.marzban_sandbox:
            raise ValueError("PROVISIONING_MARZBAN_SANDBOX: production places no user on a sandbox")
        return self

    PASSWORD_REFERENCE: ClassVar[str] = "env:PROVISIONING_MARZBAN_PASSWORD"  # noqa: S105 - a name
    """How the panel added from these settings names its secret."""

    def secrets(self, environment: Mapping[str, str]) -> dict[str, str]:
        """The environment secret references resolve in, with this password in it (given
        in a .env file, the settings have it where the process environment may not)."""
        return {
            **environment,
            "PROVISIONING_MARZBAN_PASSWORD": self.marzban_password.get_secret_value(),
        }
