"""Failover: the customers of a panel that stays down are placed on a healthy panel of
their region (else of a fallback region) without waiting for them, and the users they
left behind are disabled when that panel answers again.

A panel down for ``PROVISIONING_FAILOVER_AFTER_S`` has its active placements moved in
batches: each gets a new panel (chosen as for a new customer), the old one is recorded as
stale, and the placement worker creates the user there and grants the access (the
customer is told, with the new link). A placement being worked on (leased) is left to
the next pass. When a stale panel is healthy again, its copies are disabled (never
deleted: a move back adopts them), and the panel is dropped from the placement.

Moving back is the region's policy (``regions.move_back``). ``stay``: the customers stay
where the failover put them. ``drain``: once their home panel (the one the first
failover moved them off) has been healthy for ``PROVISIONING_FAILOVER_AFTER_S`` again,
they are moved back to it a batch per pass, within its capacity, as a move is made: the
worker adopts the disabled copy there (the customer's stable link follows), and the copy
on the failover's panel is disabled once the user at home is live.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import metrics
from chassis.clock import Clock, SystemClock
from chassis.db import transaction
from chassis.worker import Wakeup
from provisioning.domain.placement import Health
from provisioning.panels.client import PanelError
from provisioning.panels.directory import PanelDirectory
from provisioning.regions import PanelConfig

log = logging.getLogger(__name__)

_ON_PANEL = text(
    """
    SELECT subscription_id, region, protocol FROM placements
    WHERE panel_id = :panel AND desired_state = 'active' AND desired_expire > :now
      AND (lease_until IS NULL OR lease_until < now())
    ORDER BY subscription_id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
_MOVE = text(
    """
    UPDATE placements p
    SET panel_id = moved.panel_id, region = moved.region,
        stale_panels = array_remove(
            CASE WHEN CAST(:old AS varchar) = ANY(p.stale_panels) THEN p.stale_panels
                 ELSE array_append(p.stale_panels, CAST(:old AS varchar)) END,
            CAST(moved.panel_id AS varchar)),
        on_panel = false, subscription_url = NULL, panel_status = NULL,
        renewal_due = false, carry_pending = NULL,
        desired_version = p.desired_version + 1, attempts = 0, next_attempt_at = now(),
        failure_reported = false, gave_up = false, moved_at = now(), updated_at = now(),
        home_panel_id = CASE
            WHEN CAST(:away AS boolean)
                 AND coalesce(p.home_panel_id, CAST(:old AS varchar)) <> moved.panel_id
            THEN coalesce(p.home_panel_id, CAST(:old AS varchar)) END
    FROM unnest(CAST(:ids AS uuid[]), CAST(:panels AS text[]), CAST(:regions AS text[]))
         AS moved(subscription_id, panel_id, region)
    WHERE p.subscription_id = moved.subscription_id
    """
)
# A panel moved (back) to is not stale: its copy is the live one again.
# A stale copy is disabled only once the placement's state is applied where it is now: a
# customer moved by choice, with the old panel up, keeps it until the new user is live.
_STALE = text(
    """
    SELECT subscription_id, panel_username FROM placements
    WHERE cardinality(stale_panels) > 0 AND CAST(:panel AS varchar) = ANY(stale_panels)
      AND applied_version >= desired_version
    ORDER BY subscription_id
    LIMIT :limit
    """
)
_CLEANED = text(
    """
    UPDATE placements SET stale_panels = array_remove(stale_panels, CAST(:panel AS varchar))
    WHERE subscription_id = ANY(CAST(:ids AS uuid[]))
    """
)
# Users living away from a healthy home panel, their current place live (applied).
_AWAY = text(
    """
    SELECT subscription_id, panel_id FROM placements
    WHERE home_panel_id = :panel AND panel_id <> :panel
      AND desired_state = 'active' AND desired_expire > :now
      AND applied_version >= desired_version AND NOT gave_up
      AND (lease_until IS NULL OR lease_until < now())
      AND (protocol IS NULL OR protocol = ANY(CAST(:protocols AS varchar[])))
    ORDER BY subscription_id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)


async def move(
    session: AsyncSession,
    old_panel: str,
    moves: Sequence[tuple[UUID, str, str]],
    *,
    away: bool = False,
) -> None:
    """Give each placement (subscription, panel, region) its new panel, ``old_panel``
    recorded as stale: the placement worker creates the user there and grants the access,
    and the old copy is disabled once that is done and the old panel answers. Used by the
    failover (``away``: the move is forced on the customer, whose home panel is kept for a
    move back), by the move back home, and by a customer's own move
    (``provisioning.changes``: where they chose is their home now)."""
    if not moves:
        return
    ids, panels, regions = zip(*moves, strict=True)
    await session.execute(
        _MOVE,
        {
            "old": old_panel,
            "ids": list(ids),
            "panels": list(panels),
            "regions": list(regions),
            "away": away,
        },
    )


@dataclass
class Failover:
    sessions: async_sessionmaker[AsyncSession]
    panels: PanelDirectory
    placements_wakeup: Wakeup
    after: timedelta
    batch: int = 500
    concurrency: int = 16
    clock: Clock = field(default_factory=SystemClock)

    async def step(self) -> int:
        """Move one batch off each panel down long enough, and disable one batch of stale
        users on each panel that serves again; returns how many placements it handled."""
        handled = 0
        # Health is measured in real time (the probes' own), whatever the platform's clock.
        now = datetime.now(UTC)
        for panel in self.panels.panels:
            if panel.health is Health.DOWN:
                if panel.health_since is not None and now - panel.health_since >= self.after:
                    handled += await self._move_off(panel)
            elif panel.health.serves:
                handled += await self._clean(panel)
                if self._drains_back(panel, now):
                    handled += await self._drain_back(panel)
        return handled

    def _drains_back(self, panel: PanelConfig, now: datetime) -> bool:
        """Home to customers a failover moved away: its region drains back, and it has
        been healthy (not merely answering) long enough to be trusted again."""
        region = self.panels.region(panel.region)
        return (
            region is not None
            and region.move_back == "drain"
            and panel.enabled
            and panel.health is Health.HEALTHY
            and panel.health_since is not None
            and now - panel.health_since >= self.after
        )

    async def _drain_back(self, panel: PanelConfig) -> int:
        room = self.panels.room(panel.panel_id)
        limit = self.batch if room is None else min(self.batch, room)
        if limit <= 0:
            return 0
        async with transaction(self.sessions) as session:
            rows = (
                await session.execute(
                    _AWAY,
                    {
                        "panel": panel.panel_id,
                        "now": self.clock.now(),
                        "protocols": list(panel.protocols),
                        "limit": limit,
                    },
                )
            ).all()
            by_panel: dict[str, list[tuple[UUID, str, str]]] = {}
            for row in rows:
                by_panel.setdefault(row.panel_id, []).append(
                    (row.subscription_id, panel.panel_id, panel.region)
                )
            for away_on, moves in by_panel.items():
                await move(session, away_on, moves)
        if rows:
            self.panels.count(panel.panel_id, len(rows))
            self.placements_wakeup.set()
            metrics.WORK_OUTCOMES.labels("provisioning", "failover", "drained_back").inc(len(rows))
            log.info(
                "customers drained back to their home panel",
                extra={"panel": panel.panel_id, "moved": len(rows)},
            )
        return len(rows)

    async def _move_off(self, panel: PanelConfig) -> int:
        async with transaction(self.sessions) as session:
            rows = (
                await session.execute(
                    _ON_PANEL,
                    {"panel": panel.panel_id, "now": self.clock.now(), "limit": self.batch},
                )
            ).all()
            moves = []
            for row in rows:
                choice = self.panels.place(row.region, row.protocol)
                if choice is not None:
                    moves.append((row.subscription_id, choice.panel_id, choice.region))
            await move(session, panel.panel_id, moves, away=True)
        if rows and not moves:
            log.error(
                "panel down and nowhere to move its customers",
                extra={"panel": panel.panel_id, "waiting": len(rows)},
            )
        if moves:
            self.placements_wakeup.set()
            metrics.WORK_OUTCOMES.labels("provisioning", "failover", "moved").inc(len(moves))
            log.warning(
                "customers moved off a panel that is down",
                extra={"panel": panel.panel_id, "moved": len(moves)},
            )
        return len(moves)

    async def _clean(self, panel: PanelConfig) -> int:
        async with self.sessions() as session:
            rows = (
                await session.execute(_STALE, {"panel": panel.panel_id, "limit": self.batch})
            ).all()
        if not rows:
            return 0
        client = self.panels.probe_client(panel.panel_id)
        if client is None:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def disable(username: str) -> bool:
            async with gate:
                try:
                    await client.set_status(username, "disabled")  # None: gone already
                except PanelError as exc:
                    log.warning(
                        "a stale user could not be disabled yet",
                        extra={"panel": panel.panel_id, "user": username, "error": str(exc)},
                    )
                    return False
                return True

        done = await asyncio.gather(*(disable(row.panel_username) for row in rows))
        cleaned = [row.subscription_id for row, ok in zip(rows, done, strict=True) if ok]
        if cleaned:
            async with transaction(self.sessions) as session:
                await session.execute(_CLEANED, {"panel": panel.panel_id, "ids": cleaned})
            metrics.WORK_OUTCOMES.labels("provisioning", "failover", "stale_disabled").inc(
                len(cleaned)
            )
            log.info(
                "stale users disabled on a panel that came back",
                extra={"panel": panel.panel_id, "disabled": len(cleaned)},
            )
        return len(cleaned)
