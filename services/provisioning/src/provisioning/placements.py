"""Placements: billing's subscriptions become users on a panel, retried until they are.

The consumer only records the desired state (one transaction with the inbox, no panel
call); the worker claims pending placements, calls the panel outside any transaction, and
records the result together with the ``AccessGranted`` event.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin
from uuid import UUID

from sqlalchemy import func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import metrics
from chassis.db import transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.worker import RetryPolicy, Wakeup, claim, continuing_trace, trace_carrier
from contracts.billing import SubscriptionActivated, SubscriptionExtended
from contracts.provisioning import AccessGranted, AccessProvisioningFailed
from provisioning.marzban import (
    DesiredUser,
    MarzbanClient,
    MarzbanError,
    MarzbanRejected,
    MarzbanUnavailable,
    PanelUser,
    UserExists,
)
from provisioning.models import Placement

log = logging.getLogger(__name__)


def panel_username(subscription_id: UUID) -> str:
    """The subscription's user name on every panel: derived, so a retry finds the same user."""
    return "vpn_" + subscription_id.hex[:28]


def absolute_subscription_url(url: str, base_url: str) -> str:
    """Marzban answers ``/sub/<token>`` unless its URL prefix is configured."""
    if url.startswith(("http://", "https://")):
        return url
    return urljoin(base_url.rstrip("/") + "/", url.lstrip("/"))


@dataclass(frozen=True, slots=True)
class PanelConfig:
    region: str
    panel_id: str
    subscription_base_url: str


async def record_desired_state(
    event: SubscriptionActivated | SubscriptionExtended,
    ctx: MessageContext,
    *,
    panel: PanelConfig,
    wakeup: Wakeup,
) -> None:
    now = datetime.now(UTC)
    statement = insert(Placement).values(
        subscription_id=event.subscription_id,
        customer_id=event.customer_id,
        region=panel.region,
        panel_id=panel.panel_id,
        panel_username=panel_username(event.subscription_id),
        desired_expire=event.period_end,
        desired_traffic_limit_bytes=event.traffic_limit_bytes,
        desired_version=1,
        applied_version=0,
        on_panel=False,
        attempts=0,
        next_attempt_at=now,
        failure_reported=False,
        gave_up=False,
        trace_context=trace_carrier(),
    )
    excluded = statement.excluded
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=[Placement.subscription_id],
            set_={
                # Periods only grow; a replayed older event must not shorten access.
                "desired_expire": func.greatest(Placement.desired_expire, excluded.desired_expire),
                "desired_traffic_limit_bytes": excluded.desired_traffic_limit_bytes,
                "desired_version": Placement.desired_version + 1,
                "attempts": 0,
                "next_attempt_at": now,
                "failure_reported": False,
                "gave_up": False,
                "trace_context": excluded.trace_context,
                "updated_at": now,
            },
        )
    )
    ctx.after_commit(wakeup.set)


@dataclass(frozen=True, slots=True)
class Claimed:
    subscription_id: UUID
    customer_id: UUID
    region: str
    panel_id: str
    panel_username: str
    desired_expire: datetime
    desired_traffic_limit_bytes: int
    desired_version: int
    on_panel: bool
    attempts: int
    failure_reported: bool
    trace_context: dict[str, str] | None

    def desired_user(self) -> DesiredUser:
        return DesiredUser(
            username=self.panel_username,
            expire=int(self.desired_expire.timestamp()),
            data_limit=self.desired_traffic_limit_bytes,
            note=f"customer {self.customer_id} subscription {self.subscription_id}",
        )


_CLAIM = text(
    """
    UPDATE placements SET lease_until = now() + CAST(:lease AS interval), attempts = attempts + 1
    WHERE subscription_id IN (
        SELECT subscription_id FROM placements
        WHERE applied_version < desired_version AND NOT gave_up
          AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING subscription_id, customer_id, region, panel_id, panel_username, desired_expire,
              desired_traffic_limit_bytes, desired_version, on_panel, attempts, failure_reported,
              trace_context
    """
)


class PlacementWorker:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        marzban: MarzbanClient,
        panel: PanelConfig,
        concurrency: int,
        lease: timedelta,
        retry: RetryPolicy,
        report_failure_after_attempts: int,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._marzban = marzban
        self._panel = panel
        self._concurrency = concurrency
        self._lease = lease
        self._retry = retry
        self._report_after = report_failure_after_attempts

    async def step(self) -> int:
        """Apply one batch of pending placements; returns how many were claimed."""
        rows = await claim(self._sessions, _CLAIM, lease=self._lease, limit=self._concurrency)
        claimed = [Claimed(**row) for row in rows]
        await asyncio.gather(*(self._apply(placement) for placement in claimed))
        return len(claimed)

    async def _apply(self, placement: Claimed) -> None:
        with continuing_trace(
            "placement apply",
            placement.trace_context,
            subscription_id=str(placement.subscription_id),
            panel_id=placement.panel_id,
        ):
            try:
                user = await self._ensure_user(placement)
            except MarzbanError as exc:
                await self._failed(placement, exc)
                return
            await self._succeeded(placement, user)

    async def _ensure_user(self, placement: Claimed) -> PanelUser:
        desired = placement.desired_user()
        if placement.on_panel:
            user = await self._marzban.modify_user(desired)
            if user is None:  # deleted on the panel by someone: create it again
                user = await self._marzban.create_user(desired)
        else:
            try:
                user = await self._marzban.create_user(desired)
            except UserExists:
                # An earlier attempt created it and the answer was lost: bring it up to date.
                modified = await self._marzban.modify_user(desired)
                if modified is None:
                    raise MarzbanUnavailable("user exists but cannot be found") from None
                user = modified
        if not desired.matches(user):
            raise MarzbanRejected(200, f"panel kept a different state: {user}")
        return user

    async def _succeeded(self, placement: Claimed, user: PanelUser) -> None:
        url = absolute_subscription_url(user.subscription_url, self._panel.subscription_base_url)
        async with transaction(self._sessions) as session:
            await session.execute(
                update(Placement)
                .where(Placement.subscription_id == placement.subscription_id)
                .values(
                    applied_version=placement.desired_version,
                    on_panel=True,
                    subscription_url=url,
                    attempts=0,
                    lease_until=None,
                    last_error=None,
                    updated_at=func.now(),
                )
            )
            await self._outbox.add(
                session,
                AccessGranted(
                    subscription_id=placement.subscription_id,
                    customer_id=placement.customer_id,
                    region=placement.region,
                    panel_id=placement.panel_id,
                    panel_username=placement.panel_username,
                    subscription_url=url,
                    expires_at=placement.desired_expire,
                    traffic_limit_bytes=placement.desired_traffic_limit_bytes,
                ),
            )
        metrics.WORK_OUTCOMES.labels("provisioning", "placement", "done").inc()
        log.info(
            "access granted",
            extra={"subscription_id": str(placement.subscription_id), "panel": placement.panel_id},
        )

    async def _failed(self, placement: Claimed, error: MarzbanError) -> None:
        retryable = isinstance(error, MarzbanUnavailable)
        delay = self._retry.delay(placement.attempts)
        report = not retryable or (
            not placement.failure_reported and placement.attempts >= self._report_after
        )
        metrics.WORK_OUTCOMES.labels(
            "provisioning", "placement", "retry" if retryable else "failed"
        ).inc()
        log.log(
            logging.WARNING if retryable else logging.ERROR,
            "panel call failed",
            extra={
                "subscription_id": str(placement.subscription_id),
                "attempts": placement.attempts,
                "retry_in_s": delay.total_seconds() if retryable else None,
                "error": str(error),
            },
        )
        async with transaction(self._sessions) as session:
            await session.execute(
                update(Placement)
                .where(Placement.subscription_id == placement.subscription_id)
                .values(
                    next_attempt_at=func.now() + delay,
                    lease_until=None,
                    last_error=str(error)[:2000],
                    failure_reported=placement.failure_reported or report,
                    gave_up=not retryable,
                    updated_at=func.now(),
                )
            )
            if report:
                await self._outbox.add(
                    session,
                    AccessProvisioningFailed(
                        subscription_id=placement.subscription_id,
                        customer_id=placement.customer_id,
                        region=placement.region,
                        reason=f"panel {placement.panel_id}: {error}"[:1024],
                        attempts=placement.attempts,
                        retryable=retryable,
                    ),
                )
