"""Keeping the regions current: the panel directory read again, and the regions catalog
published when what customers would see has changed (a command run by an operator, a
panel's health). One step per ``PROVISIONING_DIRECTORY_REFRESH_S``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from provisioning import regions
from provisioning.panels.directory import PanelDirectory
from provisioning.regions import PanelConfig, RegionConfig
from provisioning.settings import ProvisioningSettings


def settings_panel(settings: ProvisioningSettings) -> tuple[RegionConfig, PanelConfig]:
    """The region and panel the settings name, as they are added to a fresh install."""
    region = RegionConfig(
        code=settings.region, names=settings.region_names, flag=settings.region_flag
    )
    panel = PanelConfig(
        panel_id=settings.panel_id,
        region=settings.region,
        kind="marzban",
        base_url=settings.marzban_url,
        username=settings.marzban_username,
        password_ref=settings.PASSWORD_REFERENCE,
        subscription_base_url=settings.marzban_subscription_base_url or "",
        protocols=tuple(settings.marzban_protocols),
        capacity=0,
        weight=1,
        enabled=True,
        sandbox=settings.marzban_sandbox,
    )
    return region, panel


@dataclass
class CatalogKeeper:
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    directory: PanelDirectory
    settings: ProvisioningSettings
    _bootstrapped: bool = False

    async def step(self) -> int:
        if not self._bootstrapped:
            async with transaction(self.sessions) as session:
                await regions.bootstrap(session, *settings_panel(self.settings))
            self._bootstrapped = True
        await self.directory.refresh()
        async with transaction(self.sessions) as session:
            await regions.publish_if_changed(session, self.outbox, self.settings.region)
        return 0
