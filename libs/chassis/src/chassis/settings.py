"""Settings shared by every service, read from the environment with one prefix per service."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chassis.clock import Clock, clock_from

Port = Annotated[int, Field(ge=0, le=65535)]
"""A TCP port; 0 lets the OS choose."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SandboxCheck(StrEnum):
    """How a setting could point at a sandbox; set as ``json_schema_extra={"sandbox": ...}``."""

    PROVIDER = "provider"  # a provider name; "sandbox" is the emulator
    URL = "url"  # a third-party endpoint; loopback or *.sandbox hosts are emulators
    TOKEN = "token"  # noqa: S105 - a credential; test tokens start with "test_" or contain "sandbox"


def sandbox_setting(kind: SandboxCheck, **field_kwargs: Any) -> Any:
    """A settings field that production refuses to run with when it points at a sandbox."""
    extra = dict(field_kwargs.pop("json_schema_extra", None) or {})
    extra["sandbox"] = kind.value
    return Field(json_schema_extra=extra, **field_kwargs)


def _looks_like_sandbox(kind: SandboxCheck, value: object) -> bool:
    if value is None:
        return False
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if not text:
        return False
    if kind is SandboxCheck.PROVIDER:
        return text.lower() == "sandbox"
    if kind is SandboxCheck.TOKEN:
        lowered = text.lower()
        return lowered.startswith("test_") or "sandbox" in lowered
    host = (urlsplit(text).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost") or "sandbox" in host:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Subclasses set ``env_prefix`` (e.g. ``BILLING_``)."""

    service_name: ClassVar[str] = "service"
    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    environment: Environment = Environment.DEVELOPMENT
    database_url: SecretStr = Field(
        default=SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
        description="SQLAlchemy URL of this service's own database (postgresql+asyncpg://...)",
    )
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="host:port[,host:port]")
    kafka_client_id: str | None = None
    consumer_max_records: int = Field(default=500, ge=1)
    consumer_batch_timeout_ms: int = Field(default=10, ge=1)
    consumer_commit_interval_ms: int = Field(
        default=1000, ge=0, description="Kafka offsets are committed at most this often"
    )
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_interval_s: float = Field(default=1.0, gt=0)
    producer_linger_ms: int = Field(default=2, ge=0)

    http_host: str = "127.0.0.1"
    http_port: Port = 8080
    http_max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body; more is refused (413)"
    )
    http_max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Largest request line and headers together"
    )
    http_header_timeout_s: float = Field(
        default=10.0, gt=0, description="Time for a request's line and headers to arrive (408)"
    )
    http_body_timeout_s: float = Field(
        default=15.0, gt=0, description="Time for a request's whole body to arrive (408)"
    )
    http_keep_alive_s: int = Field(default=5, ge=1, description="Idle keep-alive connections")
    http_max_connections: int = Field(
        default=1000, ge=1, description="Open connections and requests; more are answered 503"
    )
    http_backlog: int = Field(default=512, ge=1, description="Pending TCP connections")
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces endpoint; unset means no exporter"
    )
    shutdown_timeout_s: float = Field(default=20.0, gt=0)
    migrate_on_start: bool = Field(
        default=True, description="Apply migrations at start; off when a deploy job runs them"
    )
    clock_file: str | None = Field(
        default=None,
        description=(
            "Outside production only: a file holding seconds added to the real time, which "
            "tests write to move every service's clock at once (chassis.clock)"
        ),
    )

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    def env_name(self, field: str) -> str:
        """The environment variable that sets ``field``, as an operator would type it."""
        prefix = str(self.model_config.get("env_prefix") or "")
        return f"{prefix}{field}".upper()

    def sandbox_violations(self) -> list[str]:
        """Settings that point at a sandbox: allowed anywhere but production."""
        problems: list[str] = []
        for name, info in type(self).model_fields.items():
            extra = info.json_schema_extra
            if not isinstance(extra, dict) or "sandbox" not in extra:
                continue
            kind = SandboxCheck(str(extra["sandbox"]))
            if _looks_like_sandbox(kind, getattr(self, name)):
                problems.append(f"{self.env_name(name)} points at a sandbox ({kind.value})")
        return problems

    @model_validator(mode="after")
    def _refuse_sandbox_in_production(self) -> ServiceSettings:
        if self.is_production:
            problems = self.sandbox_violations()
            if self.clock_file:
                problems.append(f"{self.env_name('clock_file')} moves the clock")
            if problems:
                raise ValueError(
                    "refusing to start in production with sandbox settings: " + "; ".join(problems)
                )
        return self

    def clock(self) -> Clock:
        return clock_from(self.clock_file)
