"""Events produced by provisioning: the regions customers choose, and VPN access on the panels."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from contracts.billing import LocalizedTexts
from contracts.envelope import Event
from contracts.fields import ByteCount, HttpUrl, RegionId, UtcDatetime, VpnProtocol
from contracts.topics import (
    PROVISIONING_ACCESS,
    PROVISIONING_CATALOG,
    PROVISIONING_PANELS,
    PROVISIONING_USAGE,
)

PanelUsername = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{3,32}$"),
    Field(description="User name on the panel: deterministic, lowercase, 3 to 32 of [a-z0-9_]."),
]


ShareLink = Annotated[
    str,
    StringConstraints(pattern=r"^(vless|vmess|trojan|ss)://[^\s]+$", max_length=8192),
    Field(description="A proxy share link as v2ray/Xray clients import it."),
]


REGIONS_KEY = "regions"


class RegionOffer(BaseModel):
    """A region as customers choose it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    region: RegionId
    names: LocalizedTexts
    flag: Annotated[str, StringConstraints(min_length=1, max_length=16)] = Field(
        description="An emoji flag (or any short symbol) shown before the name."
    )
    available: bool = Field(
        description=(
            "A new customer can be placed here now: an enabled panel with room is healthy. "
            "An unavailable region is shown with its alternatives."
        )
    )
    alternatives: tuple[RegionId, ...] = Field(
        default=(),
        description="The nearest regions to offer instead, in order, that are available now.",
    )
    protocols: tuple[VpnProtocol, ...] = Field(
        default=(),
        description=(
            "The protocols a customer placed here can choose: those of the region's panels "
            "that can take a new customer now, sorted; empty from catalogs before the choice "
            "(or while none can)."
        ),
    )


class RegionsPublished(Event):
    """Every region customers can choose, in display order, and whether each can take a
    new customer now.

    Emitted by provisioning to its compacted catalog topic, under the key ``regions``,
    when an operator changes a region or panel, or a region's availability changes with
    its panels' health. Consumed by the bot (the region step of a purchase, and moving)
    and billing (regional prices).
    """

    event_type = "provisioning.regions.published.v1"
    topic = PROVISIONING_CATALOG

    catalog_version: int = Field(
        strict=True,
        ge=1,
        description="Increases with every publication; mirrors ignore versions they have passed.",
    )
    regions: tuple[RegionOffer, ...] = Field(description="Enabled regions, in display order.")
    default_region: RegionId | None = Field(
        default=None,
        description="Where a customer who chose none is placed; absent with no region.",
    )
    published_at: UtcDatetime = Field(description="When this version was published.")

    @field_validator("regions")
    @classmethod
    def _unique(cls, regions: tuple[RegionOffer, ...]) -> tuple[RegionOffer, ...]:
        codes = [offer.region for offer in regions]
        if len(codes) != len(set(codes)):
            raise ValueError("a region appears twice")
        return regions

    def key(self) -> str:
        return REGIONS_KEY


PANEL_HEALTHS = ("unknown", "healthy", "degraded", "down", "misconfigured", "incompatible")
"""A panel's health as provisioning's probes find it; the set may grow."""

PanelHealth = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z_]{0,31}$"),
    Field(
        description="One of " + ", ".join(f"`{h}`" for h in PANEL_HEALTHS) + "; more may appear."
    ),
]


class PanelHealthChanged(Event):
    """A panel's health changed: its probes failed, slowed, found nodes down or a
    configuration it cannot serve, or it answers well again.

    Emitted by provisioning's prober, once per change. Consumed by operators' alerting
    and dashboards; placement and failover act on the same state inside provisioning.
    """

    event_type = "provisioning.panel.health_changed.v1"
    topic = PROVISIONING_PANELS

    panel_id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$", description="The panel.")
    region: RegionId
    health: PanelHealth
    previous: PanelHealth
    reason: str | None = Field(
        default=None, max_length=1024, description="Why it is not healthy, for operators."
    )
    latency_ms: int | None = Field(
        default=None, ge=0, description="The last probe's answer time; absent if it failed."
    )
    changed_at: UtcDatetime = Field(description="When the probe that changed it finished.")

    def key(self) -> str:
        return self.panel_id


DRIFT_KINDS = (
    "missing",
    "expiry",
    "limit",
    "status",
    "enabled_after_expiry",
    "protocols",
    "unpaid",
)
"""What reconciliation finds wrong with a panel user; the set may grow."""


class PanelDriftRepaired(Event):
    """A panel user differed from what provisioning holds, and was repaired.

    Emitted by provisioning's reconciliation, once per user and kind repaired: a user
    missing is created again, a wrong expiry, limit, status or protocol set is corrected,
    a user enabled after its expiry is disabled, and a user with the platform's prefix
    that no placement on that panel knows is disabled (never deleted). Consumed by
    operators' alerting and audit; a customer hears nothing of it (a user created again
    comes with ``AccessGranted``, as any new link does).
    """

    event_type = "provisioning.panel.drift_repaired.v1"
    topic = PROVISIONING_PANELS

    panel_id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$", description="The panel.")
    region: RegionId
    kind: str = Field(
        pattern=r"^[a-z][a-z_]{0,31}$",
        description="One of " + ", ".join(f"`{k}`" for k in DRIFT_KINDS) + "; more may appear.",
    )
    # Unconstrained, as first published: the name is whatever the panel reports.
    panel_username: str = Field(
        description=(
            "The user's name on the panel: the platform's prefix, and for a user nobody paid "
            "for, whatever else the panel allowed."
        ),
    )
    subscription_id: UUID | None = Field(
        default=None,
        description="The subscription the user serves; absent for a user nobody paid for.",
    )
    customer_id: UUID | None = Field(
        default=None, description="The subscription's customer; absent with no subscription."
    )
    detail: str = Field(
        max_length=1024, description="What the panel had and what it should have, for operators."
    )
    found_at: UtcDatetime = Field(description="When reconciliation compared the user.")

    def key(self) -> str:
        return self.panel_id


class AccessGranted(Event):
    """A subscription has working VPN access on a panel, created or updated to match billing.

    Emitted by provisioning after the panel confirmed the user, on activation, extension and
    every move to another panel. Consumed by the gateway (``/sub/{token}`` read model) and
    the bot (shows how to connect).
    """

    event_type = "provisioning.access.granted.v1"
    topic = PROVISIONING_ACCESS

    subscription_id: UUID = Field(description="The subscription the access serves.")
    customer_id: UUID = Field(description="The subscriber.")
    region: RegionId
    panel_id: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,63}$", description="Panel within the region, e.g. `nl-1`."
    )
    panel_username: PanelUsername
    subscription_url: HttpUrl = Field(
        description="The panel's subscription link for this user; it changes on every panel call."
    )
    expires_at: UtcDatetime = Field(description="Expiry set on the panel user (Marzban `expire`).")
    traffic_limit_bytes: ByteCount = Field(
        description="Traffic limit set on the panel user in bytes; 0 means unlimited."
    )
    paid_until: UtcDatetime | None = Field(
        default=None,
        description=(
            "End of the paid period, as billing set it: what customers are told. The panel's "
            "`expires_at` is later by the grace after it. Absent from events written before "
            "grace periods (then `expires_at`)."
        ),
    )
    links: tuple[ShareLink, ...] = Field(
        default=(),
        max_length=64,
        description=(
            "The user's share links on this panel (`vless://`, `vmess://`, `trojan://`, "
            "`ss://`), one per host of each protocol: what the gateway's stable link serves. "
            "Empty in events written before stable links."
        ),
    )
    stable_url: HttpUrl | None = Field(
        default=None,
        description=(
            "The customer's stable subscription link (the gateway's `/sub/{token}`), which "
            "stays the same across failovers and moves: what customers are given. Absent "
            "when the platform has no public link address configured (then "
            "`subscription_url`)."
        ),
    )
    protocol: VpnProtocol | None = Field(
        default=None,
        description=(
            "The protocol the customer chose and the panel user has alone; absent: the user "
            "has every protocol of the panel (none chosen, or the panel does not offer it)."
        ),
    )

    def key(self) -> str:
        return str(self.subscription_id)


LinkToken = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{22,64}$"),
    Field(description="An unguessable URL-safe token (at least 128 random bits)."),
]


class AccessLinkIssued(Event):
    """A customer's stable subscription link was issued: the first time they got access,
    or because an operator revoked the one before (a leaked link).

    Emitted by provisioning. Consumed by the gateway (which serves ``/sub/{token}`` for
    the newest version only: an older token gets 404 from then on), the bot (shows the
    link) and the notifier (tells the customer of a replaced link).
    """

    event_type = "provisioning.access.link_issued.v1"
    topic = PROVISIONING_ACCESS

    customer_id: UUID = Field(description="Whose link it is.")
    link_token: LinkToken
    link_version: int = Field(
        strict=True,
        ge=1,
        description="Increases with every token issued to the customer; a newer one wins.",
    )
    stable_url: HttpUrl | None = Field(
        default=None,
        description="The link customers are given; absent with no public link address.",
    )
    replaced: bool = Field(
        description="True when it replaces (revokes) an earlier token of the customer."
    )
    issued_at: UtcDatetime = Field(description="When it was issued.")

    def key(self) -> str:
        return str(self.customer_id)


class AccessProvisioningFailed(Event):
    """Provisioning could not create or update the VPN access of a subscription.

    Emitted after each run of attempts that ends in failure; ``retryable`` says whether
    provisioning keeps trying on its own. Consumed by the bot (tells the customer access is
    delayed) and operators' alerting.
    """

    event_type = "provisioning.access.failed.v1"
    topic = PROVISIONING_ACCESS

    subscription_id: UUID = Field(description="The subscription left without access.")
    customer_id: UUID = Field(description="The subscriber.")
    region: RegionId
    reason: str = Field(
        min_length=1, max_length=1024, description="What went wrong, for operators."
    )
    attempts: int = Field(strict=True, ge=1, description="Attempts made so far.")
    retryable: bool = Field(
        description="True if provisioning will retry by itself; false needs an operator."
    )

    def key(self) -> str:
        return str(self.subscription_id)


ACCESS_STATUSES = ("active", "limited", "expired", "disabled", "on_hold", "removed")
"""A panel user's statuses as provisioning reports them (Marzban's, and ``removed`` for a
user provisioning deleted); the set may grow."""


class AccessStatusChanged(Event):
    """A subscription's panel user changed status: the panel limited it (traffic ran out),
    expired it, or made it usable again; an operator disabled it; or provisioning disabled
    (``disabled``) or deleted (``removed``) it because billing's access ended.

    Emitted by provisioning when its watch of the panel sees a status other than the last
    one it reported (or granted), and by its worker when it takes access away. Consumed by
    the bot ("My subscription" shows the state the customer actually has) and the gateway
    (the stable link serves only usable access).
    """

    event_type = "provisioning.access.status_changed.v1"
    topic = PROVISIONING_ACCESS

    subscription_id: UUID = Field(description="The subscription the access serves.")
    customer_id: UUID = Field(description="The subscriber.")
    status: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,31}$")] = Field(
        description=(
            "The panel user's status: "
            + ", ".join(f"`{status}`" for status in ACCESS_STATUSES)
            + ". New statuses may appear."
        )
    )
    used_traffic_bytes: ByteCount = Field(description="Traffic used since the last reset.")
    traffic_limit_bytes: ByteCount = Field(description="The user's limit; 0 means unlimited.")
    observed_at: UtcDatetime = Field(description="When provisioning saw it on the panel.")

    def key(self) -> str:
        return str(self.subscription_id)


USAGE_BATCH_MAX = 500
"""The most subscriptions one ``UsageReported`` carries (about 100 kB of JSON)."""


class SubscriptionUsage(BaseModel):
    """One subscription's traffic as its panel counts it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    subscription_id: UUID = Field(description="The subscription the panel user serves.")
    customer_id: UUID = Field(description="The subscriber.")
    used_traffic_bytes: ByteCount = Field(
        description="Traffic used since the panel last started the count again (a renewal, "
        "a plan change, a monthly reset)."
    )
    traffic_limit_bytes: ByteCount = Field(
        description="The period's allowance on the panel (the plan's, what was carried into "
        "it and traffic packs); 0 means unlimited."
    )
    observed_at: UtcDatetime = Field(
        description="When provisioning read it from the panel: of two reports, the later is "
        "the newer."
    )


class UsageReported(Event):
    """Traffic used by subscriptions of one panel, for those whose count changed since the
    last look.

    Emitted by provisioning's panel watch, one event per page of the panel's users it read
    (at most ``USAGE_BATCH_MAX`` subscriptions). Consumed by billing (the latest usage per
    subscription, for the partner and admin API) and the bot ("My subscription" shows used
    and remaining traffic). Reports of one subscription can arrive from two panels after a
    move: the later ``observed_at`` wins.
    """

    event_type = "provisioning.usage.reported.v1"
    topic = PROVISIONING_USAGE

    panel_id: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,63}$", description="The panel the usage was read from."
    )
    usages: tuple[SubscriptionUsage, ...] = Field(
        min_length=1, max_length=USAGE_BATCH_MAX, description="One entry per subscription."
    )

    def key(self) -> str:
        return self.panel_id


TRAFFIC_THRESHOLDS = (80, 100)
"""The shares of a period's allowance (in percent) a customer is told about, once each."""


class TrafficThresholdReached(Event):
    """A subscription has used 80 % or 100 % of its period's allowance.

    Emitted by provisioning's panel watch once per threshold and allowance: the allowance
    starts again (and both thresholds with it) when the panel's count starts again (a
    renewal, a plan change, a monthly reset) or the allowance grows past the usage (a
    traffic pack). When one look finds both crossed, only 100 is emitted. Consumed by the
    notifier (tells the customer).
    """

    event_type = "provisioning.traffic.threshold_reached.v1"
    topic = PROVISIONING_ACCESS

    subscription_id: UUID = Field(description="The subscription the panel user serves.")
    customer_id: UUID = Field(description="The subscriber.")
    threshold: int = Field(
        strict=True,
        ge=1,
        le=100,
        description="The share of the allowance reached, in percent: `80` or `100`.",
    )
    used_traffic_bytes: ByteCount = Field(description="Traffic used when it was seen.")
    traffic_limit_bytes: int = Field(
        strict=True,
        ge=1,
        description="The period's allowance on the panel (never unlimited here), in bytes.",
    )
    traffic_reset: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,15}$")] = Field(
        description="`month`: the panel starts the allowance again every month; `none`: one "
        "allowance until the period ends."
    )
    period_end: UtcDatetime | None = Field(
        default=None, description="The end of the paid period; absent if not known."
    )
    observed_at: UtcDatetime = Field(description="When provisioning saw it on the panel.")

    def key(self) -> str:
        return str(self.subscription_id)
