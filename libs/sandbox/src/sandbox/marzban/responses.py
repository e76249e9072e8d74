"""How the panel renders its records: response bodies in Marzban's key order, and the raw
records the control API shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.marzban import hosts
from sandbox.marzban.core import CoreConfig
from sandbox.marzban.emulator import MarzbanEmulator
from sandbox.marzban.errors import PanelCrash
from sandbox.marzban.records import AdminAccount, Caller, NextPlan, UserRecord

SUBSCRIPTION_HIDDEN = ("admin", "excluded_inbounds", "note", "inbounds", "auto_delete_in_days")


def iso(moment: datetime | None) -> str | None:
    """Naive UTC, microseconds only when there are some: pydantic's rendering of DB values."""
    return moment.isoformat() if moment is not None else None


def next_plan(plan: NextPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "data_limit": plan.data_limit,
        "expire": plan.expire,
        "add_remaining_traffic": plan.add_remaining_traffic,
        "fire_on_either": plan.fire_on_either,
    }


def admin(account: AdminAccount) -> dict[str, Any]:
    return {
        "username": account.username,
        "is_sudo": account.is_sudo,
        "telegram_id": account.telegram_id,
        "discord_webhook": account.discord_webhook,
        "users_usage": account.users_usage,
    }


def current_admin(caller: Caller) -> dict[str, Any]:
    if caller.account is not None:
        return admin(caller.account)
    # An env sudoer is built from the token alone, with nothing from the database.
    return {
        "username": caller.username,
        "is_sudo": True,
        "telegram_id": None,
        "discord_webhook": None,
        "users_usage": None,
    }


def user(panel: MarzbanEmulator, record: UserRecord) -> dict[str, Any]:
    """``UserResponse``, with links and a subscription URL minted for this response."""
    if record.data_limit is not None and record.data_limit < 0:
        # UserResponse declares data_limit >= 0; a next plan can leave it negative.
        raise PanelCrash(f"UserResponse of {record.username}: negative data_limit")
    owner = panel.admins.get(record.owner) if record.owner is not None else None
    return {
        "proxies": record.proxy_settings(),
        "expire": record.expire,
        "data_limit": record.data_limit,
        "data_limit_reset_strategy": record.data_limit_reset_strategy,
        "inbounds": record.inbounds(panel.core),
        "note": record.note,
        "sub_updated_at": iso(record.sub_updated_at),
        "sub_last_user_agent": record.sub_last_user_agent,
        "online_at": iso(record.online_at),
        "on_hold_expire_duration": record.on_hold_expire_duration,
        "on_hold_timeout": iso(record.on_hold_timeout),
        "auto_delete_in_days": record.auto_delete_in_days,
        "next_plan": next_plan(record.next_plan),
        "username": record.username,
        "status": record.status.value,
        "used_traffic": record.used_traffic,
        "lifetime_used_traffic": record.lifetime_used_traffic,
        "created_at": iso(record.created_at),
        "links": panel.links(record),
        "subscription_url": panel.subscription_url(record.username),
        "excluded_inbounds": record.excluded_inbounds(),
        "admin": admin(owner) if owner is not None else None,
    }


def subscription_user(panel: MarzbanEmulator, record: UserRecord) -> dict[str, Any]:
    """``SubscriptionUserResponse``: a user without its admin-side fields."""
    return {k: v for k, v in user(panel, record).items() if k not in SUBSCRIPTION_HIDDEN}


def inbounds(core: CoreConfig) -> dict[str, list[dict[str, Any]]]:
    return {
        protocol: [
            {
                "tag": inbound.tag,
                "protocol": inbound.protocol,
                "network": inbound.network,
                "tls": inbound.tls,
                "port": inbound.port,
            }
            for inbound in core.of_protocol(protocol)
        ]
        for protocol in core.protocols()
    }


def core_stats(core: CoreConfig) -> dict[str, Any]:
    return {"version": core.version, "started": True, "logs_websocket": "/api/core/logs"}


def raw_user(panel: MarzbanEmulator, record: UserRecord) -> dict[str, Any]:
    """Everything stored about a user, for tests: no links, no tokens."""
    return {
        "id": record.id,
        "username": record.username,
        "status": record.status.value,
        "owner": record.owner,
        "proxies": record.proxy_settings(),
        "inbounds": record.inbounds(panel.core),
        "excluded_inbounds": record.excluded_inbounds(),
        "data_limit": record.data_limit,
        "expire": record.expire,
        "data_limit_reset_strategy": record.data_limit_reset_strategy,
        "note": record.note,
        "on_hold_expire_duration": record.on_hold_expire_duration,
        "on_hold_timeout": iso(record.on_hold_timeout),
        "auto_delete_in_days": record.auto_delete_in_days,
        "next_plan": next_plan(record.next_plan),
        "used_traffic": record.used_traffic,
        "lifetime_used_traffic": record.lifetime_used_traffic,
        "created_at": iso(record.created_at),
        "edit_at": iso(record.edit_at),
        "online_at": iso(record.online_at),
        "sub_revoked_at": iso(record.sub_revoked_at),
        "sub_updated_at": iso(record.sub_updated_at),
        "sub_last_user_agent": record.sub_last_user_agent,
        "last_status_change": iso(record.last_status_change),
    }


def snapshot(panel: MarzbanEmulator) -> dict[str, Any]:
    return {
        "admins": [
            {**admin(account), "password_reset_at": iso(account.password_reset_at)}
            for account in panel.admins.values()
        ],
        "sudoers": sorted(panel.sudoers),
        "inbounds": inbounds(panel.core),
        "users": [raw_user(panel, record) for record in panel.users.values()],
        "nodes": [node.raw() for node in panel.nodes.all()],
        "hosts": hosts.render(panel.hosts, (inbound.tag for inbound in panel.core.inbounds)),
        "user_templates": [t.as_dict(panel.core) for t in panel.templates.templates.values()],
        "bandwidth": {"incoming": panel.uplink, "outgoing": panel.downlink},
    }
