"""Request bodies, validated the way Marzban v0.8.4 validates them.

The models copy the panel's pydantic models field for field and validator for validator
(``app/models/user.py``, ``app/models/proxy.py``), because the 422 messages, which field an
error is keyed by, and the quirks (an omitted ``inbounds`` is never filled in, ``"status": null``
is rejected) all fall out of those details. The inbound configuration reaches the validators
through the validation context, where the panel reads a global.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from sandbox.marzban.core import CoreConfig

USERNAME_REGEXP = re.compile(r"^(?=\w{3,32}\b)[a-zA-Z0-9-_@.]+(?:_[a-zA-Z0-9-_@.]+)*$")


# (str, Enum) rather than StrEnum: the panel prints members with their class name, as in
# "Protocol ProxyTypes.Trojan is disabled on your server".
class ProxyTypes(str, Enum):  # noqa: UP042
    VMess = "vmess"
    VLESS = "vless"
    Trojan = "trojan"
    Shadowsocks = "shadowsocks"

    @property
    def settings_model(self) -> type[ProxySettings]:
        return _SETTINGS_MODELS[self]


class UserStatus(str, Enum):  # noqa: UP042
    active = "active"
    disabled = "disabled"
    limited = "limited"
    expired = "expired"
    on_hold = "on_hold"


class UserStatusModify(str, Enum):  # noqa: UP042
    active = "active"
    disabled = "disabled"
    on_hold = "on_hold"


class UserStatusCreate(str, Enum):  # noqa: UP042
    active = "active"
    on_hold = "on_hold"


class UserDataLimitResetStrategy(str, Enum):  # noqa: UP042
    no_reset = "no_reset"
    day = "day"
    week = "week"
    month = "month"
    year = "year"


class XTLSFlows(Enum):
    NONE = ""
    VISION = "xtls-rprx-vision"


class ShadowsocksMethods(Enum):
    AES_128_GCM = "aes-128-gcm"
    AES_256_GCM = "aes-256-gcm"
    CHACHA20_POLY1305 = "chacha20-ietf-poly1305"


def random_password() -> str:
    return secrets.token_urlsafe(16)


class ProxySettings(BaseModel, use_enum_values=True):
    @classmethod
    def from_dict(cls, proxy_type: Any, data: Any) -> ProxySettings:
        return ProxyTypes(proxy_type).settings_model.model_validate(data)

    def stored(self) -> dict[str, str]:
        """The JSON the panel keeps in ``proxies.settings`` (``settings.dict(no_obj=True)``)."""
        stored: dict[str, str] = json.loads(self.model_dump_json())
        return stored

    def revoke(self) -> None:
        raise NotImplementedError


class VMessSettings(ProxySettings):
    id: UUID = Field(default_factory=uuid4)

    def revoke(self) -> None:
        self.id = uuid4()


class VLESSSettings(ProxySettings):
    id: UUID = Field(default_factory=uuid4)
    flow: XTLSFlows = XTLSFlows.NONE

    def revoke(self) -> None:
        self.id = uuid4()


class TrojanSettings(ProxySettings):
    password: str = Field(default_factory=random_password)
    flow: XTLSFlows = XTLSFlows.NONE

    def revoke(self) -> None:
        self.password = random_password()


class ShadowsocksSettings(ProxySettings):
    password: str = Field(default_factory=random_password)
    method: ShadowsocksMethods = ShadowsocksMethods.CHACHA20_POLY1305

    def revoke(self) -> None:
        self.password = random_password()


_SETTINGS_MODELS: dict[ProxyTypes, type[ProxySettings]] = {
    ProxyTypes.VMess: VMessSettings,
    ProxyTypes.VLESS: VLESSSettings,
    ProxyTypes.Trojan: TrojanSettings,
    ProxyTypes.Shadowsocks: ShadowsocksSettings,
}


def _core(info: ValidationInfo) -> CoreConfig:
    if not isinstance(info.context, CoreConfig):
        raise TypeError("validate user bodies with context=<CoreConfig>")
    return info.context


def _settings_by_type(value: Any) -> dict[Any, ProxySettings]:
    return {
        proxy_type: ProxySettings.from_dict(proxy_type, value.get(proxy_type, {}))
        for proxy_type in value
    }


class NextPlanModel(BaseModel):
    data_limit: int | None = None
    expire: int | None = None
    add_remaining_traffic: bool = False
    fire_on_either: bool = True


class User(BaseModel):
    proxies: dict[ProxyTypes, ProxySettings] = {}
    expire: int | None = None
    data_limit: int | None = Field(ge=0, default=None)
    data_limit_reset_strategy: UserDataLimitResetStrategy = UserDataLimitResetStrategy.no_reset
    inbounds: dict[ProxyTypes, list[str]] = {}
    note: str | None = None
    sub_updated_at: datetime | None = None
    sub_last_user_agent: str | None = None
    online_at: datetime | None = None
    on_hold_expire_duration: int | None = None
    on_hold_timeout: datetime | None = None
    auto_delete_in_days: int | None = None
    next_plan: NextPlanModel | None = None

    @field_validator("data_limit", mode="before")
    @classmethod
    def cast_to_int(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, float):
            return int(v)
        if isinstance(v, int):
            return v
        raise ValueError("data_limit must be an integer or a float, not a string")

    @field_validator("proxies", mode="before")
    @classmethod
    def validate_proxies(cls, v: Any) -> Any:
        if not v:
            raise ValueError("Each user needs at least one proxy")
        return _settings_by_type(v)

    @field_validator("username", check_fields=False)
    @classmethod
    def validate_username(cls, v: str) -> str:
        if not USERNAME_REGEXP.match(v):
            raise ValueError(
                "Username only can be 3 to 32 characters and contain a-z, 0-9, "
                "and underscores in between."
            )
        return v

    @field_validator("note", check_fields=False)
    @classmethod
    def validate_note(cls, v: str | None) -> str | None:
        if v and len(v) > 500:
            raise ValueError("User's note can be a maximum of 500 character")
        return v

    @field_validator("on_hold_expire_duration", "on_hold_timeout", mode="before")
    @classmethod
    def validate_timeout(cls, v: Any) -> Any:
        if v in (0, None):
            return None
        return v


def _check_on_hold(status: Any, info: ValidationInfo) -> Any:
    if status == UserStatusCreate.on_hold:
        on_hold_expire = info.data.get("on_hold_expire_duration")
        if on_hold_expire == 0 or on_hold_expire is None:
            raise ValueError("User cannot be on hold without a valid on_hold_expire_duration.")
        if info.data.get("expire"):
            raise ValueError("User cannot be on hold with specified expire.")
    return status


class UserCreate(User):
    username: str
    status: UserStatusCreate = None  # type: ignore[assignment]  # null is rejected, as upstream

    def excluded_inbounds(self, core: CoreConfig) -> dict[ProxyTypes, list[str]]:
        allowed = self.inbounds
        return {
            proxy_type: [
                tag
                for tag in core.tags_of(proxy_type.value)
                if tag not in allowed.get(proxy_type, [])
            ]
            for proxy_type in self.proxies
        }

    @field_validator("inbounds", mode="before")
    @classmethod
    def validate_inbounds(cls, inbounds: Any, info: ValidationInfo) -> Any:
        core = _core(info)
        proxies = info.data.get("proxies", [])
        for proxy_type in inbounds.copy():
            if proxy_type not in proxies:
                del inbounds[proxy_type]
        for proxy_type in proxies:
            tags = inbounds.get(proxy_type)
            if tags:
                for tag in tags:
                    if not core.has_tag(tag):
                        raise ValueError(f"Inbound {tag} doesn't exist")
            else:
                inbounds[proxy_type] = core.tags_of(proxy_type.value)
        return inbounds

    @field_validator("status", mode="before")
    @classmethod
    def validate_status(cls, status: Any, info: ValidationInfo) -> Any:
        return _check_on_hold(status, info)


class UserModify(User):
    status: UserStatusModify = None  # type: ignore[assignment]  # null is rejected, as upstream
    data_limit_reset_strategy: UserDataLimitResetStrategy = None  # type: ignore[assignment]

    def excluded_inbounds(self, core: CoreConfig) -> dict[ProxyTypes, list[str]]:
        return {
            proxy_type: [tag for tag in core.tags_of(proxy_type.value) if tag not in tags]
            for proxy_type, tags in self.inbounds.items()
        }

    @field_validator("inbounds", mode="before")
    @classmethod
    def validate_inbounds(cls, inbounds: Any, info: ValidationInfo) -> Any:
        core = _core(info)
        if inbounds:
            for _proxy_type, tags in inbounds.items():
                for tag in tags:
                    if not core.has_tag(tag):
                        raise ValueError(f"Inbound {tag} doesn't exist")
        return inbounds

    @field_validator("proxies", mode="before")
    @classmethod
    def validate_proxies(cls, v: Any) -> Any:
        return _settings_by_type(v)

    @field_validator("status", mode="before")
    @classmethod
    def validate_status(cls, status: Any, info: ValidationInfo) -> Any:
        return _check_on_hold(status, info)


class TokenForm(BaseModel):
    """FastAPI's ``OAuth2PasswordRequestForm`` as of 0.115."""

    grant_type: str | None = Field(None, pattern="password")
    username: str
    password: str
    scope: str = ""
    client_id: str | None = None
    client_secret: str | None = None


def _check_discord_webhook(value: str | None) -> str | None:
    if value and not value.startswith("https://discord.com"):
        raise ValueError("Discord webhook must start with 'https://discord.com'")
    return value


class AdminCreate(BaseModel):
    username: str
    is_sudo: bool
    telegram_id: int | None = None
    discord_webhook: str | None = None
    users_usage: int | None = None
    password: str

    @field_validator("discord_webhook")
    @classmethod
    def validate_discord_webhook(cls, value: str | None) -> str | None:
        return _check_discord_webhook(value)


class AdminModify(BaseModel):
    password: str | None = None
    is_sudo: bool
    telegram_id: int | None = None
    discord_webhook: str | None = None

    @field_validator("discord_webhook")
    @classmethod
    def validate_discord_webhook(cls, value: str | None) -> str | None:
        return _check_discord_webhook(value)
