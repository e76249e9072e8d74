"""Events produced by provisioning: the regions customers choose, and VPN access on the panels."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from contracts.billing import LocalizedTexts
from contracts.envelope import Event
from contracts.fields import ByteCount, HttpUrl, RegionId, UtcDatetime, VpnProtocol
from contracts.topics import PROVISIONING_ACCESS, PROVISIONING_CATALOG, PROVISIONING_PANELS

PanelUsername = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{3,32}$"),
    Field(description="User name on the panel: deterministic, lowercase, 3 to 32 of [a-z0-9_]."),
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
    protocol: VpnProtocol | None = Field(
        default=None,
        description=(
            "The protocol the customer chose and the panel user has alone; absent: the user "
            "has every protocol of the panel (none chosen, or the panel does not offer it)."
        ),
    )

    def key(self) -> str:
        return str(self.subscription_id)


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


ACCESS_STATUSES = ("active", "limited", "expired", "disabled", "on_hold")
"""A panel user's statuses as provisioning reports them (Marzban's); the set may grow."""


class AccessStatusChanged(Event):
    """The panel changed a subscription's user by itself: its traffic ran out (``limited``),
    its expiry passed (``expired``), or it is usable again; or an operator disabled it.

    Emitted by provisioning when its watch of the panel sees a status other than the last
    one it reported (or granted). Consumed by the bot ("My subscription" shows the state the
    customer actually has) and the gateway.
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
