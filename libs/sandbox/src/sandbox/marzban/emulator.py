"""An in-memory Marzban v0.8.4 panel: admins, users, tokens, links and the review job.

Pure state and rules, no I/O: the HTTP layer (``app.py``) parses a request, calls one
method and renders the result with ``responses.py``. Each operation follows the panel's
router and ``crud`` function of the same name, including the bugs a client has to live
with (see ``shared/reference/marzban.md``); those spots say so where they happen.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import re
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from sandbox.marzban.core import DEFAULT_INBOUNDS, CoreConfig, Inbound
from sandbox.marzban.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PanelCrash,
    Unauthorized,
)
from sandbox.marzban.hosts import HostRecord, HostTable, ProxyHost, default_hosts
from sandbox.marzban.links import HostedInbound, hosted_inbounds, share_link
from sandbox.marzban.nodes import NodeCreate, NodeModify, NodeRecord, NodeRegistry, NodeStatus
from sandbox.marzban.records import AdminAccount, Caller, NextPlan, ProxyRecord, UserRecord
from sandbox.marzban.schemas import (
    AdminModify,
    NextPlanModel,
    ProxySettings,
    UserCreate,
    UserModify,
    UserStatus,
)
from sandbox.marzban.tokens import (
    InvalidToken,
    admin_token_payload,
    create_subscription_token,
    encode_jwt,
    read_admin_token,
    read_subscription_token,
)
from sandbox.marzban.user_templates import UserTemplateStore
from sandbox.marzban.variables import format_variables

log = logging.getLogger(__name__)

PANEL_VERSION = "0.8.4"
# app/jobs/reset_user_data_usage.py: the days each strategy waits since the last reset.
RESET_STRATEGY_DAYS: Final = {"day": 1, "week": 7, "month": 30, "year": 365}
SORT_OPTIONS = ("username", "used_traffic", "data_limit", "expire", "created_at")
ONLINE_WINDOW = timedelta(hours=24)
USAGE_WINDOW = timedelta(days=30)


def naive_utc(moment: datetime) -> datetime:
    """How the panel's SQLite columns keep datetimes: UTC wall time, tzinfo dropped."""
    return moment.replace(tzinfo=None)


def parse_body(model: type[UserCreate] | type[UserModify], payload: Any, core: CoreConfig) -> Any:
    """Validate a JSON body like FastAPI does for a body parameter typed ``model``."""
    try:
        return model.model_validate(payload, context=core)
    except ValidationError as exc:
        raise InvalidRequest.in_body(exc) from exc
    except (TypeError, AttributeError) as exc:
        # Upstream validators assume dicts (e.g. "proxies": null on PUT) and crash on the rest.
        raise PanelCrash(f"{model.__name__} validator crashed: {exc}") from exc


@dataclass(frozen=True)
class StatusChange:
    username: str
    old: UserStatus
    new: UserStatus
    next_plan_applied: bool = False


@dataclass
class _Changes:
    """What ``crud.update_user`` reads from its ``modify`` argument."""

    proxies: dict[str, dict[str, str]]
    excluded_inbounds: dict[str, list[str]]
    status: UserStatus | None = None
    data_limit: int | None = None
    expire: int | None = None
    note: str | None = None
    data_limit_reset_strategy: str | None = None
    on_hold_timeout: datetime | None = None
    on_hold_expire_duration: int | None = None
    next_plan: NextPlan | None = None


def _next_plan(model: NextPlanModel | None) -> NextPlan | None:
    if model is None:
        return None
    return NextPlan(
        data_limit=model.data_limit,
        expire=model.expire,
        add_remaining_traffic=model.add_remaining_traffic,
        fire_on_either=model.fire_on_either,
    )


def _like(pattern: str) -> re.Pattern[str]:
    """SQL ``ILIKE '%pattern%'``: ``%`` and ``_`` in the search text stay wildcards."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


class MarzbanEmulator:
    """One panel. Construct it with the admins and inbounds a test needs.

    ``clock`` returns unix seconds (``time.time`` by default) and ``rng`` drives the random
    parts of links (REALITY short id), so tests can make both deterministic.
    ``node_connect_delay_s`` is how long a node's connection attempt takes; ``custom_json``
    names the ``USE_CUSTOM_JSON_*`` switches that are on (``default``, ``v2rayn``, ``v2rayng``,
    ``streisand``, ``happ``), all off by default as on the panel.
    """

    def __init__(
        self,
        *,
        admins: Iterable[AdminAccount] | None = None,
        sudoers: Mapping[str, str] | None = None,
        inbounds: Sequence[Inbound] = DEFAULT_INBOUNDS,
        subscription_url_prefix: str = "",
        token_expire_minutes: int = 1440,
        server_ip: str = "127.0.0.1",
        server_ipv6: str = "",
        jwt_secret: str | None = None,
        xray_version: str = "1.8.24",
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        node_connect_delay_s: float = 0.0,
        custom_json: Collection[str] = (),
    ) -> None:
        initial = list(admins) if admins is not None else [AdminAccount("admin", "admin", True)]
        self._initial_admins = copy.deepcopy(initial)
        self.admins: dict[str, AdminAccount] = {a.username: a for a in initial}
        self.sudoers = dict(sudoers or {})
        self.core = CoreConfig.of(inbounds, version=xray_version)
        self.subscription_url_prefix = subscription_url_prefix.strip("/")  # as config.py does
        self.token_expire_minutes = token_expire_minutes
        self.server_ip = server_ip
        self.server_ipv6 = server_ipv6
        self.custom_json = frozenset(custom_json)
        self.jwt_secret = jwt_secret or os.urandom(32).hex()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311  # picks REALITY short ids, not secrets
        self.users: dict[str, UserRecord] = {}
        self.hosts: HostTable = default_hosts(self.core)
        self.nodes = NodeRegistry(
            clock=self.now, connect_delay_s=node_connect_delay_s, xray_version=xray_version
        )
        self.templates = UserTemplateStore()
        self.uplink = 0
        self.downlink = 0
        self._next_id = 1

    # -- time ---------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def utcnow(self) -> datetime:
        return naive_utc(datetime.fromtimestamp(self.clock(), UTC))

    # -- admins and tokens --------------------------------------------------------------

    def add_admin(self, username: str, password: str, *, is_sudo: bool = False) -> AdminAccount:
        if username in self.admins:
            raise Conflict("Admin already exists")
        account = AdminAccount(username, password, is_sudo)
        self.admins[username] = account
        return account

    def set_admin_password(self, username: str, password: str) -> None:
        """Change a password; tokens issued before now stop working, as upstream."""
        account = self.admins.get(username)
        if account is None:
            raise NotFound("Admin not found")
        account.password = password
        account.password_reset_at = self.utcnow()

    def issue_token(self, username: str, password: str) -> str:
        if username in self.sudoers and secrets.compare_digest(self.sudoers[username], password):
            is_sudo = True
        else:
            account = self.admins.get(username)
            if account is None or not secrets.compare_digest(account.password, password):
                raise Unauthorized("Incorrect username or password")
            is_sudo = account.is_sudo
        payload = admin_token_payload(
            username, is_sudo=is_sudo, now=self.now(), expire_minutes=self.token_expire_minutes
        )
        return encode_jwt(payload, self.jwt_secret)

    def authenticate(self, token: str) -> Caller:
        """``Admin.get_current``: 401 "Could not validate credentials" on any failure."""
        try:
            claims = read_admin_token(token, self.jwt_secret, now=self.now())
        except InvalidToken:
            raise Unauthorized("Could not validate credentials") from None
        if claims.username in self.sudoers and claims.is_sudo:
            return Caller(claims.username, True, None)
        account = self.admins.get(claims.username)
        if account is None:
            raise Unauthorized("Could not validate credentials")
        if account.password_reset_at is not None:
            issued = claims.issued_at
            if issued is None or account.password_reset_at > self._datetime(issued):
                raise Unauthorized("Could not validate credentials")
        return Caller(account.username, account.is_sudo, account)

    def require_sudo(self, caller: Caller) -> None:
        if not caller.is_sudo:
            raise Forbidden()

    def admin(self, username: str) -> AdminAccount:
        """``get_admin_by_username``: database admins only, so never the env sudoer."""
        account = self.admins.get(username)
        if account is None:
            raise NotFound("Admin not found")
        return account

    def list_admins(
        self, offset: int | None, limit: int | None, username: str | None
    ) -> list[AdminAccount]:
        admins = list(self.admins.values())
        if username:
            pattern = _like(username)
            admins = [a for a in admins if pattern.search(a.username)]
        if offset and offset > 0:
            admins = admins[offset:]
        if limit and limit > 0:
            admins = admins[:limit]
        return admins

    def modify_admin(self, caller: Caller, account: AdminAccount, body: AdminModify) -> None:
        """``crud.update_admin``: falsy values change nothing, so is_sudo can only be granted."""
        if account.username != caller.username and account.is_sudo:
            raise Forbidden(
                "You're not allowed to edit another sudoer's account. Use marzban-cli instead."
            )
        if body.is_sudo:
            account.is_sudo = True
        if body.password is not None:
            # The new bcrypt hash never equals the old one, so any password counts as a change.
            account.password = body.password
            account.password_reset_at = self.utcnow()
        if body.telegram_id:
            account.telegram_id = body.telegram_id
        if body.discord_webhook:
            account.discord_webhook = body.discord_webhook

    def remove_admin(self, account: AdminAccount) -> None:
        if account.is_sudo:
            raise Forbidden("You're not allowed to delete sudo accounts. Use marzban-cli instead.")
        del self.admins[account.username]
        for user in self.users.values():
            if user.owner == account.username:
                user.owner = None  # users.admin_id is set to NULL

    def disable_admin_users(self, account: AdminAccount) -> None:
        """``crud.disable_all_active_users``: active and on_hold users become disabled."""
        for user in self._owned_by(account):
            if user.status in (UserStatus.active, UserStatus.on_hold):
                self._set_status(user, UserStatus.disabled)

    def activate_admin_users(self, account: AdminAccount) -> None:
        """``crud.activate_all_disabled_users``: a disabled user that never connected and still
        has an on-hold duration (and no expiry) goes back on hold; the others become active."""
        for user in self._owned_by(account):
            if user.status != UserStatus.disabled:
                continue
            back_on_hold = (
                user.expire is None
                and user.on_hold_expire_duration is not None
                and user.online_at is None
            )
            self._set_status(user, UserStatus.on_hold if back_on_hold else UserStatus.active)

    def _owned_by(self, account: AdminAccount) -> list[UserRecord]:
        return [u for u in self.users.values() if u.owner == account.username]

    @staticmethod
    def reset_admin_usage(account: AdminAccount) -> AdminAccount:
        account.users_usage = 0
        return account

    # -- users --------------------------------------------------------------------------

    def parse_user_create(self, payload: Any) -> UserCreate:
        parsed: UserCreate = parse_body(UserCreate, payload, self.core)
        return parsed

    def parse_user_modify(self, payload: Any) -> UserModify:
        parsed: UserModify = parse_body(UserModify, payload, self.core)
        return parsed

    def _check_protocols_enabled(self, protocols: Iterable[Any]) -> None:
        for proxy_type in protocols:
            if not self.core.of_protocol(proxy_type.value):
                # The enum's repr, not its value: "Protocol ProxyTypes.Trojan is disabled ..."
                raise BadRequest(f"Protocol {proxy_type} is disabled on your server")

    def create_user(self, caller: Caller, body: UserCreate) -> UserRecord:
        self._check_protocols_enabled(body.proxies)
        if body.username in self.users:
            raise Conflict("User already exists")
        excluded = body.excluded_inbounds(self.core)
        now = self.utcnow()
        user = UserRecord(
            id=self._next_id,
            username=body.username,
            proxies=[
                ProxyRecord(proxy_type.value, settings.stored(), list(excluded[proxy_type]))
                for proxy_type, settings in body.proxies.items()
            ],
            status=UserStatus(body.status.value) if body.status else UserStatus.active,
            created_at=now,
            owner=self._db_admin_name(caller),
            data_limit=body.data_limit or None,
            expire=body.expire or None,
            data_limit_reset_strategy=body.data_limit_reset_strategy.value,
            note=body.note,
            on_hold_expire_duration=body.on_hold_expire_duration or None,
            on_hold_timeout=naive_utc(body.on_hold_timeout) if body.on_hold_timeout else None,
            auto_delete_in_days=body.auto_delete_in_days,
            next_plan=_next_plan(body.next_plan),
            last_status_change=now,
        )
        self._next_id += 1
        self.users[user.username] = user
        return user

    def user(self, caller: Caller, username: str) -> UserRecord:
        """``get_validated_user``: 404 first, then 403 for another admin's user."""
        user = self.users.get(username)
        if user is None:
            raise NotFound("User not found")
        if not (caller.is_sudo or (user.owner is not None and user.owner == caller.username)):
            raise Forbidden()
        return user

    def modify_user(self, caller: Caller, username: str, body: UserModify) -> UserRecord:
        user = self.user(caller, username)
        self._check_protocols_enabled(body.proxies)
        changes = _Changes(
            proxies={t.value: s.stored() for t, s in body.proxies.items()},
            excluded_inbounds={
                t.value: tags for t, tags in body.excluded_inbounds(self.core).items()
            },
            status=UserStatus(body.status.value) if body.status is not None else None,
            data_limit=body.data_limit,
            expire=body.expire,
            note=body.note,
            data_limit_reset_strategy=(
                body.data_limit_reset_strategy.value
                if body.data_limit_reset_strategy is not None
                else None
            ),
            on_hold_timeout=naive_utc(body.on_hold_timeout) if body.on_hold_timeout else None,
            on_hold_expire_duration=body.on_hold_expire_duration,
            next_plan=_next_plan(body.next_plan),
        )
        self._update(user, changes)
        return user

    def _update(self, user: UserRecord, changes: _Changes) -> None:
        """``crud.update_user``, step by step."""
        if changes.proxies:
            for protocol, settings in changes.proxies.items():
                existing = user.proxy(protocol)
                if existing is not None:
                    existing.settings = settings
                else:
                    user.proxies.append(ProxyRecord(protocol, settings))
            user.proxies = [p for p in user.proxies if p.protocol in changes.proxies]
        if changes.excluded_inbounds:
            for protocol, tags in changes.excluded_inbounds.items():
                proxy = user.proxy(protocol)
                if proxy is not None:
                    proxy.excluded_inbounds = list(tags)
        if changes.status is not None:
            user.status = changes.status
        if changes.data_limit is not None:
            user.data_limit = changes.data_limit or None
            if user.status not in (UserStatus.expired, UserStatus.disabled):
                if not user.data_limit or user.used_traffic < user.data_limit:
                    if user.status != UserStatus.on_hold:
                        user.status = UserStatus.active
                else:
                    user.status = UserStatus.limited
        if changes.expire is not None:
            user.expire = changes.expire or None
            if user.status in (UserStatus.active, UserStatus.expired):
                if not user.expire or user.expire > self.now():
                    user.status = UserStatus.active
                else:
                    user.status = UserStatus.expired
        if changes.note is not None:
            user.note = changes.note or None
        if changes.data_limit_reset_strategy is not None:
            user.data_limit_reset_strategy = changes.data_limit_reset_strategy
        if changes.on_hold_timeout is not None:
            user.on_hold_timeout = changes.on_hold_timeout
        if changes.on_hold_expire_duration is not None:
            user.on_hold_expire_duration = changes.on_hold_expire_duration
        # Omitted and null alike delete the plan: a PUT that wants to keep it must resend it.
        user.next_plan = changes.next_plan
        user.edit_at = self.utcnow()

    def delete_user(self, caller: Caller, username: str) -> None:
        user = self.user(caller, username)
        del self.users[user.username]

    def reset_usage(self, caller: Caller, username: str) -> UserRecord:
        return self._reset_user_data_usage(self.user(caller, username))

    def _reset_user_data_usage(self, user: UserRecord) -> UserRecord:
        """``crud.reset_user_data_usage``: the endpoint's and the reset job's."""
        self._reset_traffic(user)
        # Upstream tests `status not in (expired or disabled)`, which is `not in "expired"`:
        # every status but expired, disabled and on_hold included, comes back active.
        if user.status != UserStatus.expired:
            user.status = UserStatus.active
        user.next_plan = None
        return user

    def _reset_traffic(self, user: UserRecord) -> None:
        user.traffic_at_resets.append(user.used_traffic)
        user.last_reset_at = self.utcnow()
        user.used_traffic = 0
        user.hourly_usage.clear()

    def revoke_subscription(self, caller: Caller, username: str) -> UserRecord:
        user = self.user(caller, username)
        user.sub_revoked_at = self.utcnow()
        revoked: dict[str, dict[str, str]] = {}
        for proxy in user.proxies:
            settings = ProxySettings.from_dict(proxy.protocol, proxy.settings)
            settings.revoke()
            revoked[proxy.protocol] = settings.stored()
        # crud.revoke_user_sub feeds the user itself back into update_user, so limits and
        # expiry are re-evaluated and the next plan survives.
        self._update(
            user,
            _Changes(
                proxies=revoked,
                excluded_inbounds={},
                status=user.status,
                data_limit=user.data_limit,
                expire=user.expire,
                note=user.note,
                data_limit_reset_strategy=user.data_limit_reset_strategy,
                on_hold_timeout=user.on_hold_timeout,
                on_hold_expire_duration=user.on_hold_expire_duration,
                next_plan=user.next_plan,
            ),
        )
        return user

    def activate_next_plan(self, caller: Caller, username: str) -> UserRecord:
        user = self.user(caller, username)
        if user.next_plan is None:
            raise NotFound("User doesn't have next plan")
        self._apply_next_plan(user)
        # v0.8.4 checks for the plan after applying it (and deleting it), so success is a 404.
        raise NotFound("User doesn't have next plan")

    def _apply_next_plan(self, user: UserRecord) -> None:
        """``crud.reset_user_by_next``; its arithmetic crashes on an unlimited limit."""
        plan = user.next_plan
        assert plan is not None
        if plan.add_remaining_traffic:
            remaining = 0
        elif user.data_limit is None:
            raise PanelCrash("reset_user_by_next: data_limit - used_traffic with no data_limit")
        else:
            remaining = user.data_limit - user.used_traffic
        if plan.data_limit is None:
            raise PanelCrash("reset_user_by_next: next_plan.data_limit is null")
        self._reset_traffic(user)
        user.status = UserStatus.active
        user.data_limit = plan.data_limit + remaining
        user.expire = plan.expire
        user.next_plan = None

    def set_owner(self, caller: Caller, username: str, admin_username: str) -> UserRecord:
        user = self.user(caller, username)
        self.require_sudo(caller)
        if admin_username not in self.admins:
            raise NotFound("Admin not found")
        user.owner = admin_username
        return user

    def list_users(
        self,
        caller: Caller,
        *,
        offset: int | None = None,
        limit: int | None = None,
        usernames: Sequence[str] | None = None,
        search: str | None = None,
        status: UserStatus | None = None,
        owners: Sequence[str] | None = None,
        sort: str | None = None,
    ) -> tuple[list[UserRecord], int]:
        sort_keys = self._sort_keys(sort)
        admins = owners if caller.is_sudo else [caller.username]
        users = list(self.users.values())
        if search:
            pattern = _like(search)
            users = [
                u
                for u in users
                if pattern.search(u.username) or (u.note is not None and pattern.search(u.note))
            ]
        if usernames:
            users = [u for u in users if u.username in usernames]
        if status:
            users = [u for u in users if u.status == status]
        if admins:
            users = [u for u in users if u.owner is not None and u.owner in admins]
        total = len(users)
        for key in reversed(sort_keys):
            users.sort(key=_sort_value(key.lstrip("-")), reverse=key.startswith("-"))
        # Like SQLite, a negative OFFSET counts as none and a negative LIMIT as no limit.
        if offset and offset > 0:
            users = users[offset:]
        if limit and limit > 0:
            users = users[:limit]
        return users, total

    @staticmethod
    def _sort_keys(sort: str | None) -> list[str]:
        if sort is None:
            return []
        keys = sort.strip(",").split(",")
        for key in keys:
            if key not in SORT_OPTIONS and not (key[:1] == "-" and key[1:] in SORT_OPTIONS):
                raise BadRequest(f'"{key}" is not a valid sort option')
        return keys

    def expired_users(
        self,
        caller: Caller,
        expired_after: datetime | None,
        expired_before: datetime | None,
    ) -> list[UserRecord]:
        after, before = self._validate_dates(expired_after, expired_before)
        return [
            user
            for user in self.users.values()
            if user.status in (UserStatus.expired, UserStatus.limited)
            and (caller.is_sudo or user.owner == caller.username)
            and user.expire
            and after.timestamp() <= user.expire <= before.timestamp()
        ]

    def delete_expired_users(
        self,
        caller: Caller,
        expired_after: datetime | None,
        expired_before: datetime | None,
    ) -> list[str]:
        removed = [u.username for u in self.expired_users(caller, expired_after, expired_before)]
        if not removed:
            raise NotFound("No expired users found in the specified date range")
        for username in removed:
            del self.users[username]
        return removed

    def _validate_dates(
        self, start: datetime | str | None, end: datetime | str | None
    ) -> tuple[datetime, datetime]:
        """``app.dependencies.validate_dates``: strings parsed as ISO, 30 days back by default.

        Datetimes given as query parameters are used as they are, so a naive one compared
        with an aware default crashes the panel, like the real one does.
        """
        try:
            if start:
                start_date = start if isinstance(start, datetime) else self._parse_iso(start)
            else:
                start_date = datetime.fromtimestamp(self.now(), UTC) - USAGE_WINDOW
            if end:
                end_date = end if isinstance(end, datetime) else self._parse_iso(end)
                if (start_date.tzinfo is None) != (end_date.tzinfo is None):
                    raise TypeError("can't compare offset-naive and offset-aware datetimes")
                if end_date < start_date:
                    raise BadRequest("Start date must be before end date")
            else:
                end_date = datetime.fromtimestamp(self.now(), UTC)
        except ValueError:
            raise BadRequest("Invalid date range or format") from None
        except TypeError as exc:
            raise PanelCrash(str(exc)) from exc
        return self._as_utc(start_date), self._as_utc(end_date)

    @staticmethod
    def _parse_iso(text: str) -> datetime:
        # The panel runs in UTC, where astimezone() reads a naive time as UTC.
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    @staticmethod
    def _as_utc(moment: datetime) -> datetime:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def user_usage(self, user: UserRecord, start: str, end: str) -> list[dict[str, Any]]:
        return self._usages([user], *self._validate_dates(start, end))

    def users_usage(
        self, caller: Caller, start: str, end: str, owners: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        window = self._validate_dates(start, end)
        admins = owners if caller.is_sudo else [caller.username]
        users = [
            u
            for u in self.users.values()
            if not admins or (u.owner is not None and u.owner in admins)
        ]
        return self._usages(users, *window)

    def _usages(
        self, users: Iterable[UserRecord], start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """``crud.get_user_usages``: the master first, then every node by id."""
        lower, upper = naive_utc(start.astimezone(UTC)), naive_utc(end.astimezone(UTC))
        rows: dict[int | None, dict[str, Any]] = {
            None: {"node_id": None, "node_name": "Master", "used_traffic": 0}
        }
        for node in self.nodes.all():
            rows[node.id] = {"node_id": node.id, "node_name": node.name, "used_traffic": 0}
        for user in users:
            for (node_id, hour), amount in user.hourly_usage.items():
                if lower <= hour <= upper and node_id in rows:
                    rows[node_id]["used_traffic"] += amount
        return list(rows.values())

    def nodes_usage(self, start: str, end: str) -> list[dict[str, Any]]:
        lower, upper = self._validate_dates(start, end)
        return self.nodes.usages(naive_utc(lower.astimezone(UTC)), naive_utc(upper.astimezone(UTC)))

    # -- nodes and hosts -------------------------------------------------------------------

    def add_node(self, body: NodeCreate) -> NodeRecord:
        node = self.nodes.add(body)
        if body.add_as_new_host:
            for inbound in self.core.inbounds:
                self.hosts.setdefault(inbound.tag, []).append(
                    HostRecord.for_node(body.name, body.address)
                )
        return node

    def modify_node(self, node: NodeRecord, body: NodeModify) -> NodeRecord:
        return self.nodes.modify(node, body)

    def remove_node(self, node: NodeRecord) -> None:
        self.nodes.remove(node)
        # Like the node's own usage rows, its users' rows fall back to the master.
        for user in self.users.values():
            for (node_id, hour), amount in list(user.hourly_usage.items()):
                if node_id == node.id:
                    del user.hourly_usage[(node_id, hour)]
                    master = (None, hour)
                    user.hourly_usage[master] = user.hourly_usage.get(master, 0) + amount

    def modify_hosts(self, modified: Mapping[str, Sequence[ProxyHost]]) -> None:
        """``modify_hosts``: every tag is checked before any is replaced."""
        for tag in modified:
            if not self.core.has_tag(tag):
                raise BadRequest(f"Inbound {tag} doesn't exist")
        for tag, hosts in modified.items():
            self.hosts[tag] = [HostRecord.stored(host) for host in hosts]

    def reset_all_usage(self, caller: Caller) -> None:
        self.require_sudo(caller)
        for user in self.users.values():
            # crud.reset_all_users_data_usage is handed the caller's own admin row.
            if caller.account is not None and user.owner != caller.username:
                continue
            user.used_traffic = 0
            if user.status not in (UserStatus.on_hold, UserStatus.expired, UserStatus.disabled):
                user.status = UserStatus.active
            user.traffic_at_resets.clear()
            user.last_reset_at = None
            user.hourly_usage.clear()

    def _db_admin_name(self, caller: Caller) -> str | None:
        # An env sudoer has no admin row, so its users are created with "admin": null.
        return caller.username if caller.username in self.admins else None

    # -- subscription --------------------------------------------------------------------

    def subscription_user(self, token: str) -> UserRecord:
        """``get_validated_sub``: every failure is a plain 404 "Not Found"."""
        try:
            claims = read_subscription_token(token, self.jwt_secret, now=self.now())
        except InvalidToken:
            raise NotFound("Not Found") from None
        issued = self._datetime(claims.created_at)
        user = self.users.get(claims.username)
        if user is None or user.created_at > issued:
            raise NotFound("Not Found")
        if user.sub_revoked_at is not None and user.sub_revoked_at > issued:
            raise NotFound("Not Found")
        return user

    def record_subscription_fetch(self, user: UserRecord, user_agent: str) -> None:
        user.sub_updated_at = self.utcnow()
        user.sub_last_user_agent = user_agent

    def subscription_url(self, username: str) -> str:
        prefix = self.subscription_url_prefix.replace("*", secrets.token_hex(8))
        token = create_subscription_token(username, self.jwt_secret, now=self.now())
        return f"{prefix}/sub/{token}"

    def hosted_inbounds(self, user: UserRecord) -> list[HostedInbound]:
        variables = format_variables(
            user, now=self.now(), server_ip=self.server_ip, server_ipv6=self.server_ipv6
        )
        return hosted_inbounds(
            allowed=user.inbounds(self.core),
            proxies=user.proxy_settings(),
            core=self.core,
            hosts=self.hosts,
            variables=variables,
            rng=self.rng,
        )

    def links(self, user: UserRecord) -> list[str]:
        return [share_link(hosted) for hosted in self.hosted_inbounds(user)]

    # -- traffic and the review job ------------------------------------------------------

    def add_traffic(self, username: str, amount: int, node_id: int | None = None) -> UserRecord:
        """What ``record_user_usages`` and ``record_node_usages`` do when the core, or the node
        ``node_id``, reports ``amount`` bytes for a user: the user is charged the amount times
        the node's usage coefficient, the node's outbound traffic is the amount itself."""
        if amount < 0:
            raise ValueError("traffic cannot be negative")
        user = self.users.get(username)
        if user is None:
            raise NotFound("User not found")
        coefficient = 1.0
        if node_id is not None:
            node = self.nodes.get(node_id)
            if node.status is not NodeStatus.connected:
                # The jobs only ask connected nodes for their stats.
                raise Conflict(f'Node "{node.name}" is not connected')
            coefficient = node.usage_coefficient
        charged = int(amount * coefficient)
        now = self.utcnow()
        user.used_traffic += charged
        user.online_at = now
        hour = now.replace(minute=0, second=0, microsecond=0)
        user.hourly_usage[(node_id, hour)] = user.hourly_usage.get((node_id, hour), 0) + charged
        if user.owner is not None and user.owner in self.admins:
            self.admins[user.owner].users_usage += charged
        self.nodes.record_usage(node_id, hour, 0, amount)
        self.downlink += amount
        return user

    def add_node_usage(self, node_id: int | None, uplink: int, downlink: int) -> None:
        """Outbound traffic of the master or a node that no user is charged for."""
        if node_id is not None:
            self.nodes.get(node_id)
        hour = self.utcnow().replace(minute=0, second=0, microsecond=0)
        self.nodes.record_usage(node_id, hour, uplink, downlink)
        self.uplink += uplink
        self.downlink += downlink

    def review(self) -> list[StatusChange]:
        """One run of the ``review`` job (``app/jobs/review_users.py``)."""
        now = self.now()
        changes: list[StatusChange] = []
        for user in [u for u in self.users.values() if u.status == UserStatus.active]:
            limited = bool(user.data_limit and user.used_traffic >= user.data_limit)
            expired = bool(user.expire and user.expire <= now)
            plan = user.next_plan
            fires = plan is not None and (plan.fire_on_either or (limited and expired))
            if (limited or expired) and fires:
                try:
                    self._apply_next_plan(user)
                except PanelCrash:
                    # The job dies on this user; the rest wait for the next run.
                    log.warning("review: next plan of %s crashed the job", user.username)
                    return changes
                changes.append(StatusChange(user.username, UserStatus.active, user.status, True))
                continue
            if limited:
                status = UserStatus.limited
            elif expired:
                status = UserStatus.expired
            else:
                continue
            changes.append(self._set_status(user, status))
        for user in [u for u in self.users.values() if u.status == UserStatus.on_hold]:
            base_time = user.edit_at or user.created_at
            connected = user.online_at is not None and base_time <= user.online_at
            timed_out = user.on_hold_timeout is not None and user.on_hold_timeout <= self.utcnow()
            if not (connected or timed_out):
                continue
            changes.append(self._set_status(user, UserStatus.active))
            if user.on_hold_expire_duration is not None:
                user.expire = int(now) + user.on_hold_expire_duration
            user.on_hold_expire_duration = None
            user.on_hold_timeout = None
        return changes

    def reset_data_usage(self) -> list[str]:
        """One run of the hourly ``reset_user_data_usage`` job: an active or limited user
        whose strategy's days (1, 7, 30, 365) have passed since its last reset (or its
        creation) starts again from zero, a limited one active. Returns who was reset."""
        now = self.utcnow()
        reset: list[str] = []
        for user in list(self.users.values()):
            days = RESET_STRATEGY_DAYS.get(user.data_limit_reset_strategy)
            if days is None or user.status not in (UserStatus.active, UserStatus.limited):
                continue
            if (now - user.last_traffic_reset_time).days < days:
                continue
            self._reset_user_data_usage(user)
            reset.append(user.username)
        return reset

    def _set_status(self, user: UserRecord, status: UserStatus) -> StatusChange:
        change = StatusChange(user.username, user.status, status)
        user.status = status
        user.last_status_change = self.utcnow()
        return change

    # -- system ---------------------------------------------------------------------------

    def system_stats(self, caller: Caller) -> dict[str, Any]:
        users = [u for u in self.users.values() if caller.is_sudo or u.owner == caller.username]
        online_since = self.utcnow() - ONLINE_WINDOW

        def count(status: UserStatus) -> int:
            return sum(1 for u in users if u.status == status)

        return {
            "version": PANEL_VERSION,
            "mem_total": 2 * 1024**3,
            "mem_used": 512 * 1024**2,
            "cpu_cores": os.cpu_count() or 1,
            "cpu_usage": 0.0,
            "total_user": len(users),
            "online_users": sum(
                1 for u in self.users.values() if u.online_at and u.online_at >= online_since
            ),
            "users_active": count(UserStatus.active),
            "users_on_hold": count(UserStatus.on_hold),
            "users_disabled": count(UserStatus.disabled),
            "users_expired": count(UserStatus.expired),
            "users_limited": count(UserStatus.limited),
            "incoming_bandwidth": self.uplink,
            "outgoing_bandwidth": self.downlink,
            "incoming_bandwidth_speed": 0,
            "outgoing_bandwidth_speed": 0,
        }

    def clear(self) -> None:
        """Back to a fresh install: no users, nodes or templates, the initial admins and default
        hosts, the same secret and inbounds."""
        self.users.clear()
        self.hosts = default_hosts(self.core)
        self.nodes.clear()
        self.templates.templates.clear()
        self.admins = {a.username: a for a in copy.deepcopy(self._initial_admins)}
        self.uplink = self.downlink = 0
        self._next_id = 1

    @staticmethod
    def _datetime(timestamp: float) -> datetime:
        return naive_utc(datetime.fromtimestamp(timestamp, UTC))


def _sort_value(attribute: str) -> Callable[[UserRecord], tuple[bool, Any]]:
    def value(user: UserRecord) -> tuple[bool, Any]:
        # SQLite orders NULL before any value.
        current = getattr(user, attribute)
        return (current is not None, current if current is not None else 0)

    return value
