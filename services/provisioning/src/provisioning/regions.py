"""Regions and panels: provisioning's own data, kept by the command, published for the bot.

SQL for both tables is here; the directory (``panels.directory``) reads them for the
workers, and ``publish_if_changed`` turns them into the compacted regions catalog
(``RegionsPublished``) whenever what customers would see differs from the last one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from chassis.messaging.outbox import Outbox
from contracts.provisioning import RegionOffer, RegionsPublished
from provisioning.domain.placement import (
    Candidate,
    Health,
    alternatives,
    available,
    offered_protocols,
)
from provisioning.models import CatalogPublication, PanelRow, Region
from provisioning.panels.secrets import check_reference

log = logging.getLogger(__name__)

# Any constant shared by the replicas: one of them publishes a changed catalog, once.
_PUBLISH_LOCK = 0x70726F76  # "prov"

_LOADS = text(
    "SELECT panel_id, count(*) AS placed FROM placements "
    "WHERE panel_id IS NOT NULL AND desired_state <> 'removed' GROUP BY panel_id"
)


@dataclass(frozen=True, slots=True)
class PanelConfig:
    """What the rest of provisioning knows of a panel: never its type's field names."""

    panel_id: str
    region: str
    kind: str
    base_url: str
    username: str
    password_ref: str
    subscription_base_url: str
    protocols: tuple[str, ...]
    capacity: int
    weight: int
    enabled: bool
    sandbox: bool
    health: Health = Health.UNKNOWN
    health_reason: str | None = None
    health_since: datetime | None = None

    def protocols_for(self, chosen: str | None) -> tuple[str, ...]:
        """What a user of this panel is given: the chosen protocol alone where the panel
        offers it, else every protocol of the panel."""
        return (chosen,) if chosen is not None and chosen in self.protocols else self.protocols

    def candidate(self, placed: int, *, usable: bool = True) -> Candidate:
        """The panel as placement weighs it; ``usable``: it has a client to be called by."""
        return Candidate(
            panel_id=self.panel_id,
            region=self.region,
            weight=self.weight,
            capacity=self.capacity,
            placed=placed,
            health=self.health,
            enabled=self.enabled and usable,
            protocols=frozenset(self.protocols),
        )

    @property
    def connection(self) -> tuple[object, ...]:
        """What its client is built from: a change means a new client."""
        return (self.kind, self.base_url, self.username, self.password_ref, self.protocols)


@dataclass(frozen=True, slots=True)
class RegionConfig:
    code: str
    names: Mapping[str, str]
    flag: str
    fallbacks: tuple[str, ...] = ()
    move_back: str = "stay"
    position: int = 0
    enabled: bool = True


def panel_config(row: PanelRow) -> PanelConfig:
    return PanelConfig(
        panel_id=row.panel_id,
        region=row.region,
        kind=row.kind,
        base_url=row.base_url,
        username=row.username,
        password_ref=row.password_ref,
        subscription_base_url=row.subscription_base_url or row.base_url,
        protocols=tuple(row.protocols),
        capacity=row.capacity,
        weight=row.weight,
        enabled=row.enabled,
        sandbox=row.sandbox,
        health=Health(row.health),
        health_reason=row.health_reason,
        health_since=row.health_since,
    )


def region_config(row: Region) -> RegionConfig:
    return RegionConfig(
        code=row.code,
        names=dict(row.names),
        flag=row.flag,
        fallbacks=tuple(row.fallbacks),
        move_back=row.move_back,
        position=row.position,
        enabled=row.enabled,
    )


class Refused(Exception):
    """The change would leave the data inconsistent; the message says why."""


def _region_values(region: RegionConfig) -> dict[str, object]:
    return {
        "code": region.code,
        "names": dict(region.names),
        "flag": region.flag,
        "fallbacks": list(region.fallbacks),
        "move_back": region.move_back,
        "position": region.position,
        "enabled": region.enabled,
    }


async def put_region(session: AsyncSession, region: RegionConfig) -> None:
    """Create a region or replace its definition."""
    if not region.names:
        raise Refused("a region needs a name in at least one language")
    if region.move_back not in ("stay", "drain"):
        raise Refused(f"move-back is stay or drain, not {region.move_back!r}")
    if region.code in region.fallbacks:
        raise Refused("a region cannot fall back to itself")
    values = _region_values(region)
    await session.execute(
        insert(Region)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[Region.code], set_={**values, "updated_at": func.now()}
        )
    )


def _connection(panel: PanelConfig) -> dict[str, object]:
    """How a panel is reached: what the settings' panel keeps as the settings say."""
    return {
        "kind": panel.kind,
        "base_url": panel.base_url.rstrip("/"),
        "username": panel.username,
        "password_ref": panel.password_ref,
        "subscription_base_url": panel.subscription_base_url or None,
        "protocols": list(panel.protocols),
        "sandbox": panel.sandbox,
    }


async def put_panel(session: AsyncSession, panel: PanelConfig) -> None:
    """Create a panel or replace its definition; what its probes found is kept."""
    if await session.get(Region, panel.region) is None:
        raise Refused(f"there is no region {panel.region!r}: create it first")
    try:
        check_reference(panel.password_ref)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if not panel.protocols:
        raise Refused("a panel needs at least one protocol")
    values = {
        "panel_id": panel.panel_id,
        "region": panel.region,
        **_connection(panel),
        "capacity": panel.capacity,
        "weight": panel.weight,
        "enabled": panel.enabled,
    }
    await session.execute(
        insert(PanelRow)
        .values(**values, health=Health.UNKNOWN.value, failures=0)
        .on_conflict_do_update(
            index_elements=[PanelRow.panel_id], set_={**values, "updated_at": func.now()}
        )
    )


async def remove_panel(session: AsyncSession, panel_id: str) -> None:
    """Forget a panel that serves nobody: one with users on it (or stale copies to disable)
    is refused; drain it first (weight 0, then a failover or the customers' moves)."""
    row = await session.get(PanelRow, panel_id, with_for_update=True)
    if row is None:
        raise Refused(f"there is no panel {panel_id!r}")
    users = await session.scalar(
        text(
            "SELECT count(*) FROM placements WHERE (panel_id = :panel "
            "AND desired_state <> 'removed') OR CAST(:panel AS varchar) = ANY(stale_panels)"
        ),
        {"panel": panel_id},
    )
    if users:
        raise Refused(f"panel {panel_id} still has {users} users: drain it first")
    await session.delete(row)


async def bootstrap(session: AsyncSession, region: RegionConfig, panel: PanelConfig) -> bool:
    """The panel the service's settings name, and its region: a fresh install (and one
    upgraded from a single panel) works on its settings alone.

    The settings stay the truth of how that panel is reached (URL, credentials,
    protocols, sandbox): they are applied at every start. Its capacity, weight and
    whether it is enabled are the operator's, as is the region once it exists. True if
    the panel was added.
    """
    await session.execute(
        insert(Region)
        .values(**_region_values(region))
        .on_conflict_do_nothing(index_elements=[Region.code])
    )
    connection = _connection(panel)
    # xmax = 0 only on a row this statement inserted.
    added = await session.scalar(
        insert(PanelRow)
        .values(
            panel_id=panel.panel_id,
            region=panel.region,
            capacity=panel.capacity,
            weight=panel.weight,
            enabled=True,
            health=Health.UNKNOWN.value,
            failures=0,
            **connection,
        )
        .on_conflict_do_update(
            index_elements=[PanelRow.panel_id], set_={**connection, "updated_at": func.now()}
        )
        .returning(text("xmax = 0"))
    )
    if added:
        log.info("panel added from the settings", extra={"panel": panel.panel_id})
    return bool(added)


async def regions(session: AsyncSession) -> list[RegionConfig]:
    rows = (await session.scalars(select(Region).order_by(Region.position, Region.code))).all()
    return [region_config(row) for row in rows]


async def panels(session: AsyncSession) -> list[PanelConfig]:
    rows = (await session.scalars(select(PanelRow).order_by(PanelRow.panel_id))).all()
    return [panel_config(row) for row in rows]


async def loads(session: AsyncSession) -> dict[str, int]:
    """Users each panel holds."""
    return {row.panel_id: row.placed for row in await session.execute(_LOADS)}


def offers(
    all_regions: Sequence[RegionConfig], all_panels: Sequence[PanelConfig], placed: dict[str, int]
) -> tuple[RegionOffer, ...]:
    """The regions as customers see them: enabled ones, with what they can take now."""
    enabled = [region for region in all_regions if region.enabled]
    codes = {region.code for region in enabled}
    candidates = [
        panel.candidate(placed.get(panel.panel_id, 0))
        for panel in all_panels
        if panel.region in codes
    ]
    fallbacks = {
        region.code: tuple(code for code in region.fallbacks if code in codes) for region in enabled
    }
    return tuple(
        RegionOffer(
            region=region.code,
            names=dict(region.names),
            flag=region.flag,
            available=available(candidates, region.code),
            alternatives=()
            if available(candidates, region.code)
            else alternatives(candidates, region.code, fallbacks),
            protocols=offered_protocols(candidates, region.code),
        )
        for region in enabled
    )


def _digest(published: RegionsPublished) -> str:
    content = published.model_dump(mode="json", include={"regions", "default_region"})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


async def publish_if_changed(
    session: AsyncSession, outbox: Outbox, default_region: str | None
) -> int | None:
    """Publish the regions when what customers would see differs from the last
    publication; the new version, or None when the published one is current."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLISH_LOCK})
    offered = offers(await regions(session), await panels(session), await loads(session))
    codes = [offer.region for offer in offered]
    catalog = RegionsPublished(
        catalog_version=1,
        regions=offered,
        default_region=default_region if default_region in codes else next(iter(codes), None),
        published_at=datetime.now(UTC),
    )
    fingerprint = _digest(catalog)
    last = await session.scalar(
        select(CatalogPublication).order_by(CatalogPublication.version.desc()).limit(1)
    )
    if last is not None and last.digest == fingerprint:
        return None
    version = (last.version if last is not None else 0) + 1
    catalog = catalog.model_copy(update={"catalog_version": version})
    session.add(
        CatalogPublication(version=version, digest=fingerprint, published_at=catalog.published_at)
    )
    await outbox.add(session, catalog)
    log.info(
        "regions published",
        extra={
            "catalog_version": version,
            "regions": len(offered),
            "available": sum(offer.available for offer in offered),
        },
    )
    return version
