"""Reconciliation: every panel's users compared with the placements, and drift repaired.

Each ``PROVISIONING_RECONCILE_INTERVAL_S`` every panel of the directory is read a page at
a time, and each page is compared with the placements on that panel in one statement
(the rule is :mod:`provisioning.domain.drift`). What is wrong is repaired:

- a placement's user missing, or with a wrong expiry, limit or status (enabled after its
  expiry among them): the placement is made pending again, and the placement worker, with
  its leases, retries and adoption of a user that exists, brings the panel to the desired
  state. Such a repair grants no access again (the customer's link is unchanged), unless
  the user had to be created;
- a wrong set of protocols: reconciliation sets the panel's protocols itself, keeping the
  credentials of those the user keeps (the worker never sends protocols on a change);
- a user with our prefix that no placement on that panel knows (nobody paid for it here):
  disabled, never deleted; a stale copy left by a failover is failover's, not unpaid.

A placement with work pending (or leased, or given up) is left to the worker, as is one
changed since the cycle began. Each repair is logged, counted in
``provisioning_drift_repaired_total{kind}`` and published as ``PanelDriftRepaired``. A
panel that does not answer usefully is logged and left for the next cycle; calls to a
panel are never made inside a database transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chassis import metrics
from chassis.clock import Clock, SystemClock
from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from chassis.worker import Wakeup
from contracts.provisioning import PanelDriftRepaired
from provisioning.domain.drift import PREFIX, Drift, Seen, Wanted, drift_of, placement_repairs
from provisioning.panels.client import PanelClient, PanelError, PanelUser
from provisioning.panels.directory import PanelDirectory
from provisioning.placements import REMOVED, Claimed
from provisioning.regions import PanelConfig

log = logging.getLogger(__name__)

DRIFT_REPAIRED = Counter(
    "provisioning_drift_repaired_total",
    "Panel users reconciliation found differing from the placements and repaired, by kind",
    ["kind"],
)

_LOCK = text("SELECT pg_try_advisory_lock(hashtext(:name))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtext(:name))")
# One statement per page: each user of the page with its placement, if any has the name.
_PAGE = text(
    """
    SELECT seen.username, p.subscription_id, p.customer_id, p.panel_id, p.desired_expire,
           p.desired_traffic_limit_bytes, p.carried_bytes, p.extra_bytes, p.traffic_reset,
           p.desired_state, p.protocol,
           CAST(:panel AS varchar) = ANY(p.stale_panels) AS stale,
           (p.applied_version < p.desired_version OR p.gave_up OR p.lease_until > now()
            OR p.updated_at >= :started) AS busy
    FROM unnest(CAST(:usernames AS text[])) AS seen(username)
    LEFT JOIN placements p ON p.panel_username = seen.username
    """
)
# The users the panel should have: whatever was not seen on any page is missing.
_SERVED = text(
    """
    SELECT panel_username FROM placements
    WHERE panel_id = :panel AND on_panel AND desired_state = 'active' AND desired_expire > :now
      AND applied_version = desired_version AND NOT gave_up AND updated_at < :started
    """
)
_MISSING = text(
    """
    SELECT panel_username, subscription_id, customer_id FROM placements
    WHERE panel_username = ANY(CAST(:usernames AS text[]))
    """
)
# Pending again for the worker, unless it has work for it already (a change since).
_REPAIR = text(
    """
    UPDATE placements
    SET desired_version = desired_version + 1, repair_version = desired_version + 1,
        attempts = 0, next_attempt_at = now(), failure_reported = false, updated_at = now()
    WHERE subscription_id = ANY(CAST(:ids AS uuid[])) AND panel_id = :panel
      AND applied_version = desired_version AND NOT gave_up
      AND (lease_until IS NULL OR lease_until < now())
    RETURNING subscription_id
    """
)


@dataclass(frozen=True, slots=True)
class Found:
    """One user of a panel that differs from what it should be."""

    username: str
    drifts: tuple[Drift, ...]
    detail: str
    subscription_id: UUID | None = None
    customer_id: UUID | None = None
    protocols: tuple[str, ...] = ()
    """The protocols the user should have (for a ``protocols`` repair)."""


@dataclass
class _Cycle:
    """One panel's pass: when it began, and what it has seen and repaired so far."""

    panel: PanelConfig
    client: PanelClient
    started: datetime
    seen: set[str] = field(default_factory=set)
    repaired: int = 0


def seen_of(user: PanelUser) -> Seen:
    return Seen(
        status=user.status,
        expires_at=user.expires_at or 0,
        traffic_limit_bytes=user.traffic_limit_bytes or 0,
        traffic_reset=user.traffic_reset,
        protocols=frozenset(user.protocols),
    )


def wanted_of(row: Any, panel: PanelConfig, now: datetime) -> Wanted:
    """What the placement's user should be, as the worker would make it."""
    desired = Claimed(
        subscription_id=row.subscription_id,
        customer_id=row.customer_id,
        region=panel.region,
        panel_id=panel.panel_id,
        panel_username=row.username,
        desired_expire=row.desired_expire,
        desired_traffic_limit_bytes=row.desired_traffic_limit_bytes,
        desired_version=0,
        shortened=False,
        on_panel=True,
        attempts=0,
        failure_reported=False,
        trace_context=None,
        carried_bytes=row.carried_bytes,
        extra_bytes=row.extra_bytes,
        desired_state=row.desired_state,
        traffic_reset=row.traffic_reset,
    ).desired_user(now)
    return Wanted(
        expires_at=desired.expires_at,
        traffic_limit_bytes=desired.traffic_limit_bytes,
        traffic_reset=desired.traffic_reset,
        access=desired.active,
        expired=row.desired_expire <= now,
        protocols=frozenset(panel.protocols_for(row.protocol)),
        removed=row.desired_state == REMOVED,
    )


def _detail(wanted: Wanted | None, seen: Seen | None) -> str:
    if seen is None:
        return "no user on the panel"
    if wanted is None:
        return f"status {seen.status}, and no placement on this panel"
    return (
        f"panel: {seen.status}, expires {seen.expires_at}, limit {seen.traffic_limit_bytes} "
        f"({seen.traffic_reset}), {','.join(sorted(seen.protocols))}; desired: "
        f"{'access' if wanted.access else 'no access'}, expires {wanted.expires_at}, limit "
        f"{wanted.traffic_limit_bytes} ({wanted.traffic_reset}), "
        f"{','.join(sorted(wanted.protocols))}"
    )[:1024]


@dataclass
class Reconciler:
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    panels: PanelDirectory
    placements_wakeup: Wakeup
    page_size: int = 1000
    concurrency: int = 16
    clock: Clock = field(default_factory=SystemClock)

    async def step(self) -> int:
        """One full cycle over every panel; returns how many repairs were made."""
        repaired = 0
        for panel in self.panels.panels:
            repaired += await self.reconcile(panel)
        return repaired

    async def reconcile(self, panel: PanelConfig) -> int:
        """One pass over the panel's users, by one replica at a time: the lock is a
        connection's (held idle, outside any transaction, while the panel is read)."""
        try:
            client = self.panels.client(panel.panel_id)
        except PanelError as exc:
            self._cannot(panel, "the panel cannot be used", exc)
            return 0
        engine: AsyncEngine = self.sessions.kw["bind"]
        lock = {"name": f"reconcile:{panel.panel_id}"}
        async with engine.connect() as holder:
            locked = await holder.scalar(_LOCK, lock)
            await holder.commit()
            if not locked:
                log.info("another replica reconciles the panel", extra={"panel": panel.panel_id})
                return 0
            try:
                return await self._reconcile(panel, client)
            finally:
                await holder.execute(_UNLOCK, lock)
                await holder.commit()

    async def _reconcile(self, panel: PanelConfig, client: PanelClient) -> int:
        async with self.sessions() as session:
            started: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
        cycle = _Cycle(panel, client, started)
        offset = 0
        while True:
            try:
                users, total = await client.list_users(offset=offset, limit=self.page_size)
            except PanelError as exc:
                # An incomplete listing says nothing of who is missing: the next cycle.
                self._cannot(panel, "the panel's users cannot be read", exc)
                return cycle.repaired
            await self._page(cycle, users)
            offset += len(users)
            if not users or offset >= total:
                break
        await self._missing(cycle)
        log.info(
            "panel reconciled",
            extra={"panel": panel.panel_id, "users": offset, "repaired": cycle.repaired},
        )
        return cycle.repaired

    def _cannot(self, panel: PanelConfig, what: str, exc: PanelError) -> None:
        log.warning(
            "reconciliation skipped",
            extra={"panel": panel.panel_id, "reason": what, "error": str(exc)},
        )
        metrics.WORK_OUTCOMES.labels("provisioning", "reconcile", "retry").inc()

    async def _page(self, cycle: _Cycle, users: list[PanelUser]) -> None:
        ours = {user.username: user for user in users if user.username.startswith(PREFIX)}
        cycle.seen.update(ours)
        if not ours:
            return
        now = self.clock.now()
        async with self.sessions() as session:
            rows = await session.execute(
                _PAGE,
                {"panel": cycle.panel.panel_id, "usernames": list(ours), "started": cycle.started},
            )
        found: list[Found] = []
        for row in rows:
            if row.stale or (row.panel_id == cycle.panel.panel_id and row.busy):
                continue  # failover's stale copy, or the worker's to bring up to date
            known = row.subscription_id is not None and row.panel_id == cycle.panel.panel_id
            wanted = wanted_of(row, cycle.panel, now) if known else None
            seen = seen_of(ours[row.username])
            drifts = drift_of(wanted, seen)
            if drifts:
                found.append(
                    Found(
                        row.username,
                        drifts,
                        _detail(wanted, seen),
                        row.subscription_id if known else None,
                        row.customer_id if known else None,
                        tuple(sorted(wanted.protocols)) if wanted is not None else (),
                    )
                )
        await self._repair(cycle, found)

    async def _missing(self, cycle: _Cycle) -> None:
        """Placements whose user no page had; each confirmed absent by name first (a user
        deleted meanwhile shifts the pages after it, and one may have gone unseen)."""
        async with self.sessions() as session:
            served = await session.scalars(
                _SERVED,
                {"panel": cycle.panel.panel_id, "now": self.clock.now(), "started": cycle.started},
            )
            unseen = [username for username in served if username not in cycle.seen]
        if not unseen:
            return
        gate = asyncio.Semaphore(self.concurrency)

        async def absent(username: str) -> bool:
            async with gate:
                try:
                    return await cycle.client.get_user(username) is None
                except PanelError as exc:
                    self._cannot(cycle.panel, "a missing user cannot be confirmed", exc)
                    return False

        confirmed = [
            username
            for username, gone in zip(
                unseen, await asyncio.gather(*(absent(name) for name in unseen)), strict=True
            )
            if gone
        ]
        if not confirmed:
            return
        async with self.sessions() as session:
            rows = (await session.execute(_MISSING, {"usernames": confirmed})).all()
        await self._repair(
            cycle,
            [
                Found(
                    row.panel_username,
                    (Drift.MISSING,),
                    _detail(None, None),
                    row.subscription_id,
                    row.customer_id,
                )
                for row in rows
            ],
        )

    async def _repair(self, cycle: _Cycle, found: Sequence[Found]) -> None:
        """The panel's own calls first (outside any transaction), then one transaction: the
        placements made pending again and every repair's event."""
        if not found:
            return
        done: list[tuple[Found, tuple[Drift, ...]]] = []
        direct = [f for f in found if Drift.UNPAID in f.drifts or Drift.PROTOCOLS in f.drifts]
        gate = asyncio.Semaphore(self.concurrency)

        async def call(found: Found) -> tuple[Drift, ...]:
            async with gate:
                return await self._call(cycle, found)

        outcomes = await asyncio.gather(*(call(f) for f in direct))
        done += [(f, kinds) for f, kinds in zip(direct, outcomes, strict=True) if kinds]
        pending = {f.subscription_id: f for f in found if placement_repairs(f.drifts)}
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            if pending:
                repaired = await session.scalars(
                    _REPAIR, {"ids": list(pending), "panel": cycle.panel.panel_id}
                )
                for subscription_id in repaired:
                    f = pending[subscription_id]
                    done.append((f, tuple(d for d in f.drifts if d is not Drift.PROTOCOLS)))
            events = [
                PanelDriftRepaired(
                    panel_id=cycle.panel.panel_id,
                    region=cycle.panel.region,
                    kind=kind.value,
                    panel_username=f.username,
                    subscription_id=f.subscription_id,
                    customer_id=f.customer_id,
                    detail=f.detail,
                    found_at=now,
                )
                for f, kinds in done
                for kind in kinds
            ]
            if events:
                await self.outbox.add_many(session, list(events))
        if any(kind is not Drift.UNPAID for _, kinds in done for kind in kinds):
            self.placements_wakeup.set()
        for f, kinds in done:
            for kind in kinds:
                DRIFT_REPAIRED.labels(kind.value).inc()
            log.warning(
                "drift repaired",
                extra={
                    "panel": cycle.panel.panel_id,
                    "user": f.username,
                    "subscription_id": str(f.subscription_id) if f.subscription_id else None,
                    "kinds": ",".join(kind.value for kind in kinds),
                    "detail": f.detail,
                },
            )
        cycle.repaired += sum(len(kinds) for _, kinds in done)

    async def _call(self, cycle: _Cycle, found: Found) -> tuple[Drift, ...]:
        """Disable an unpaid user, or set a user's protocols; the kinds done."""
        try:
            if Drift.UNPAID in found.drifts:
                await cycle.client.set_status(found.username, "disabled")  # None: gone
                return (Drift.UNPAID,)
            await cycle.client.set_protocols(
                found.username, found.protocols or cycle.panel.protocols
            )
            return (Drift.PROTOCOLS,)
        except PanelError as exc:
            log.warning(
                "drift found and not repaired yet",
                extra={"panel": cycle.panel.panel_id, "user": found.username, "error": str(exc)},
            )
            metrics.WORK_OUTCOMES.labels("provisioning", "reconcile", "retry").inc()
            return ()
