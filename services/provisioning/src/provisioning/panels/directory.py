"""The panel directory: provisioning's regions and panels, with a client for each panel.

Loaded from the ``regions`` and ``panels`` tables and refreshed on a schedule, so a panel
added, changed or disabled with the command (by any replica) takes effect everywhere
within one refresh, and a rotated secret with it. Between refreshes the directory counts
the users it places itself, so a burst of purchases spreads as if the counts were live.
Nothing here calls a panel: clients are built, and closed when their panel changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from provisioning import regions
from provisioning.domain.placement import Candidate, Choice, Health, choose
from provisioning.panels.client import PanelClient, PanelUnavailable
from provisioning.panels.marzban import MarzbanClient
from provisioning.panels.secrets import SecretMissing, resolve
from provisioning.regions import PanelConfig, RegionConfig

log = logging.getLogger(__name__)


ClientFactory = Callable[[PanelConfig, str, float], PanelClient]


def _marzban(panel: PanelConfig, password: str, timeout_s: float) -> PanelClient:
    return MarzbanClient(
        base_url=panel.base_url,
        username=panel.username,
        password=password,
        protocols=list(panel.protocols),
        timeout_s=timeout_s,
    )


CLIENTS: Final[Mapping[str, ClientFactory]] = {"marzban": _marzban}
"""One client per panel type; adding a type is its module and a line here."""


@dataclass
class _Entry:
    config: PanelConfig
    client: PanelClient | None
    problem: str | None = None
    """Why it has no client (a secret missing, a sandbox in production, an unknown type)."""


@dataclass
class PanelDirectory:
    sessions: async_sessionmaker[AsyncSession]
    environment: Mapping[str, str]
    timeout_s: float
    production: bool
    default_region: str | None = None
    """Where a user of a region the directory does not have is placed (a region removed
    since the customer chose it, or recorded before the first refresh)."""
    factories: Mapping[str, ClientFactory] = field(default_factory=lambda: CLIENTS)
    _panels: dict[str, _Entry] = field(default_factory=dict)
    _regions: dict[str, RegionConfig] = field(default_factory=dict)
    _placed: dict[str, int] = field(default_factory=dict)
    loaded: bool = False

    async def refresh(self) -> None:
        async with self.sessions() as session:
            all_regions = await regions.regions(session)
            all_panels = await regions.panels(session)
            loads = await regions.loads(session)
        self._regions = {region.code: region for region in all_regions}
        seen = set()
        for config in all_panels:
            seen.add(config.panel_id)
            entry = self._panels.get(config.panel_id)
            if entry is not None and entry.config.connection == config.connection:
                entry.config = config
                continue
            if entry is not None and entry.client is not None:
                await entry.client.aclose()
            self._panels[config.panel_id] = self._entry(config)
        for gone in set(self._panels) - seen:
            entry = self._panels.pop(gone)
            if entry.client is not None:
                await entry.client.aclose()
        self._placed = {panel_id: loads.get(panel_id, 0) for panel_id in self._panels}
        self.loaded = True

    def _entry(self, config: PanelConfig) -> _Entry:
        if config.sandbox and self.production:
            problem = "the panel is marked a sandbox, and this is production"
            log.error("panel refused", extra={"panel": config.panel_id, "reason": problem})
            return _Entry(config, None, problem)
        factory = self.factories.get(config.kind)
        if factory is None:
            return _Entry(config, None, f"no client for panels of type {config.kind!r}")
        try:
            password = resolve(config.password_ref, self.environment)
        except SecretMissing as exc:
            log.error("panel secret missing", extra={"panel": config.panel_id, "error": str(exc)})
            return _Entry(config, None, str(exc))
        return _Entry(config, factory(config, password, self.timeout_s))

    def client(self, panel_id: str) -> PanelClient:
        """The panel's client; :class:`PanelUnavailable` (work waits) when there is none,
        or while the panel is down: its circuit is open, and calls fail fast until a
        probe finds it answering again."""
        entry = self._panels.get(panel_id)
        if entry is None:
            raise PanelUnavailable(f"panel {panel_id} is not in the directory")
        if entry.client is None:
            raise PanelUnavailable(f"panel {panel_id} cannot be used: {entry.problem}")
        if entry.config.health is Health.DOWN:
            raise PanelUnavailable(
                f"panel {panel_id} is down ({entry.config.health_reason}): circuit open"
            )
        return entry.client

    def probe_client(self, panel_id: str) -> PanelClient | None:
        """The panel's client whatever its health, for the prober; None if it has none."""
        entry = self._panels.get(panel_id)
        return entry.client if entry is not None else None

    def config(self, panel_id: str) -> PanelConfig | None:
        entry = self._panels.get(panel_id)
        return entry.config if entry is not None else None

    def problem(self, panel_id: str) -> str | None:
        entry = self._panels.get(panel_id)
        return entry.problem if entry is not None else "not in the directory"

    @property
    def panels(self) -> list[PanelConfig]:
        return [entry.config for entry in self._panels.values()]

    def has_region(self, code: str) -> bool:
        return code in self._regions

    def region(self, code: str) -> RegionConfig | None:
        return self._regions.get(code)

    def room(self, panel_id: str) -> int | None:
        """How many more users the panel may take (None: no capacity set)."""
        config = self.config(panel_id)
        if config is None or config.capacity <= 0:
            return None
        return max(config.capacity - self._placed.get(panel_id, 0), 0)

    def count(self, panel_id: str, users: int) -> None:
        """``users`` placed on the panel other than by ``place`` (a move back to it)."""
        self._placed[panel_id] = self._placed.get(panel_id, 0) + users

    @property
    def regions(self) -> list[RegionConfig]:
        return sorted(self._regions.values(), key=lambda region: (region.position, region.code))

    def candidates(self) -> list[Candidate]:
        return [
            entry.config.candidate(
                self._placed.get(entry.config.panel_id, 0), usable=entry.client is not None
            )
            for entry in self._panels.values()
            if self._regions.get(entry.config.region, _DISABLED).enabled
        ]

    def place(self, region: str, protocol: str | None = None) -> Choice | None:
        """Choose the panel for a new user of ``region``, and count it there."""
        if region not in self._regions and self.default_region is not None:
            region = self.default_region
        fallbacks = {code: region.fallbacks for code, region in self._regions.items()}
        choice = choose(self.candidates(), region, fallbacks, protocol)
        if choice is not None:
            self._placed[choice.panel_id] = self._placed.get(choice.panel_id, 0) + 1
        return choice

    async def aclose(self) -> None:
        for entry in self._panels.values():
            if entry.client is not None:
                await entry.client.aclose()
        self._panels.clear()


_DISABLED = RegionConfig(code="", names={}, flag="", enabled=False)
