"""What the panel stores: admins, users, their proxies and next plans (``app/db/models.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sandbox.marzban.core import CoreConfig
from sandbox.marzban.schemas import UserStatus


@dataclass
class AdminAccount:
    """An admin row. ``password`` is kept in clear: this is a sandbox."""

    username: str
    password: str
    is_sudo: bool = False
    telegram_id: int | None = None
    discord_webhook: str | None = None
    users_usage: int = 0
    password_reset_at: datetime | None = None


@dataclass(frozen=True)
class Caller:
    """The admin a request acts as; ``account`` is None for an env sudoer (``SUDO_USERNAME``)."""

    username: str
    is_sudo: bool
    account: AdminAccount | None


@dataclass
class ProxyRecord:
    protocol: str
    settings: dict[str, str]
    excluded_inbounds: list[str] = field(default_factory=list)


@dataclass
class NextPlan:
    data_limit: int | None
    expire: int | None
    add_remaining_traffic: bool = False
    fire_on_either: bool = True


@dataclass
class UserRecord:
    id: int
    username: str
    proxies: list[ProxyRecord]
    status: UserStatus
    created_at: datetime
    owner: str | None
    data_limit: int | None = None
    expire: int | None = None
    data_limit_reset_strategy: str = "no_reset"
    note: str | None = None
    on_hold_expire_duration: int | None = None
    on_hold_timeout: datetime | None = None
    auto_delete_in_days: int | None = None
    next_plan: NextPlan | None = None
    used_traffic: int = 0
    traffic_at_resets: list[int] = field(default_factory=list)
    # reset_at of the last user_usage_logs row: the reset job counts its days from it.
    last_reset_at: datetime | None = None
    # node_user_usages rows: traffic per node (None: the master) and hour (the hour's start).
    hourly_usage: dict[tuple[int | None, datetime], int] = field(default_factory=dict)
    edit_at: datetime | None = None
    sub_revoked_at: datetime | None = None
    sub_updated_at: datetime | None = None
    sub_last_user_agent: str | None = None
    online_at: datetime | None = None
    last_status_change: datetime | None = None

    @property
    def last_traffic_reset_time(self) -> datetime:
        return self.last_reset_at or self.created_at

    @property
    def lifetime_used_traffic(self) -> int:
        return self.used_traffic + sum(self.traffic_at_resets)

    def proxy(self, protocol: str) -> ProxyRecord | None:
        return next((proxy for proxy in self.proxies if proxy.protocol == protocol), None)

    def inbounds(self, core: CoreConfig) -> dict[str, list[str]]:
        return {
            proxy.protocol: [
                tag for tag in core.tags_of(proxy.protocol) if tag not in proxy.excluded_inbounds
            ]
            for proxy in self.proxies
        }

    def excluded_inbounds(self) -> dict[str, list[str]]:
        return {proxy.protocol: list(proxy.excluded_inbounds) for proxy in self.proxies}

    def proxy_settings(self) -> dict[str, dict[str, str]]:
        return {proxy.protocol: dict(proxy.settings) for proxy in self.proxies}
