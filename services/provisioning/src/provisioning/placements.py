"""Placements: billing's subscriptions become users on a panel, retried until they are.

The consumer only records the desired state (one transaction with the inbox, no panel
call); the worker claims pending placements, calls the panel outside any transaction, and
records the result together with the ``AccessGranted`` event. A refund's shortening is a
desired state like an extension's, with an earlier end: the panel user's expiry moves
back, and a user whose access is over is disabled. Billing's stages after the end are
desired states too: suspended (the user disabled, kept with its link, so that a payment
brings both back) and removed (the user deleted; a payment creates it again).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin
from uuid import UUID

from sqlalchemy import bindparam, case, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import metrics
from chassis.clock import Clock, SystemClock
from chassis.db import bound, transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.worker import RetryPolicy, Wakeup, claim, continuing_trace, trace_carrier
from contracts.billing import (
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionPlanChanged,
    SubscriptionRemoved,
    SubscriptionShortened,
    SubscriptionSuspended,
    SubscriptionTrafficAdded,
)
from contracts.provisioning import AccessGranted, AccessProvisioningFailed, AccessStatusChanged
from provisioning import links
from provisioning.models import Placement
from provisioning.panels.client import (
    DesiredUser,
    PanelClient,
    PanelError,
    PanelRejected,
    PanelUnavailable,
    PanelUser,
    UserExists,
)
from provisioning.panels.directory import PanelDirectory

log = logging.getLogger(__name__)


def panel_username(subscription_id: UUID) -> str:
    """The subscription's user name on every panel: derived, so a retry finds the same user."""
    return "vpn_" + subscription_id.hex[:28]


def absolute_subscription_url(url: str, base_url: str) -> str:
    """Marzban answers ``/sub/<token>`` unless its URL prefix is configured."""
    if url.startswith(("http://", "https://")):
        return url
    return urljoin(base_url.rstrip("/") + "/", url.lstrip("/"))


ACTIVE, SUSPENDED, REMOVED = "active", "suspended", "removed"
# The panel user's statuses the worker itself brings about when billing ends access.
DISABLED_STATUS, REMOVED_STATUS = "disabled", "removed"
"""Billing's stages of a subscription, as a placement desires them."""


@dataclass(frozen=True, slots=True)
class Desired:
    """What billing says a subscription's panel user should be."""

    expire: datetime
    traffic_limit_bytes: int
    revision: int | None
    """Billing's revision of the subscription; None from events written before revisions."""
    shortened: bool = False
    """This change moved the end earlier (a refund)."""
    renewal: bool = False
    """This change is a paid extension: a new allowance starts (the panel's usage count is
    reset once, keeping what was left)."""
    state: str = ACTIVE
    """Billing's stage: ``active``, ``suspended`` or ``removed``."""
    period_end: datetime | None = None
    """The end of the paid period (``expire`` is later by the grace); None from events
    written before grace periods."""
    lapsed: bool = False
    """Nothing of the old period's traffic is carried into this renewal: it starts after a
    gap (paid after the end and its grace), or it is an upgrade (credited in time)."""
    carry_over: bool = True
    """The plan carries what is left of the traffic into a renewal."""
    traffic_reset: str = "none"
    """``month``: the panel starts the allowance again every month."""

    @property
    def carries(self) -> bool:
        """A renewal adds what was left to the new allowance."""
        return self.carry_over and not self.lapsed


PeriodChange = (
    SubscriptionActivated | SubscriptionExtended | SubscriptionPlanChanged | SubscriptionShortened
)
StageChange = SubscriptionSuspended | SubscriptionRemoved
SubscriptionChange = PeriodChange | StageChange


def desired_of(event: SubscriptionChange, current: Desired | None) -> Desired | None:
    """What ``event`` asks of the panel user; None for a stage change of a subscription
    that never had one."""
    if isinstance(event, SubscriptionSuspended | SubscriptionRemoved):
        if current is None:
            return None
        return Desired(
            expire=current.expire,
            traffic_limit_bytes=current.traffic_limit_bytes,
            revision=event.revision,
            state=SUSPENDED if isinstance(event, SubscriptionSuspended) else REMOVED,
            period_end=current.period_end,
            carry_over=current.carry_over,
            traffic_reset=current.traffic_reset,
        )
    # A refund keeps the plan's rules and allowance; so does time added behind the current
    # period for a downgrade (its plan applies later, with SubscriptionPlanChanged).
    deferred = isinstance(event, SubscriptionExtended) and event.next_plan_id is not None
    limit = event.traffic_limit_bytes
    if isinstance(event, SubscriptionShortened):
        rules = (current.carry_over, current.traffic_reset) if current else (True, "none")
    elif deferred and current is not None:
        rules = (current.carry_over, current.traffic_reset)
        limit = current.traffic_limit_bytes
    else:
        rules = (event.traffic_carry_over, event.traffic_reset)
    return Desired(
        # Served through the grace after the end; older events have none.
        expire=event.access_until or event.period_end,
        traffic_limit_bytes=limit,
        revision=event.revision,
        shortened=isinstance(event, SubscriptionShortened),
        # A new allowance starts: a renewal, or a change of plan.
        renewal=isinstance(event, SubscriptionPlanChanged)
        or (isinstance(event, SubscriptionExtended) and not deferred),
        period_end=event.period_end,
        lapsed=(
            isinstance(event, SubscriptionExtended)
            and event.period_start > event.previous_period_end
        )
        or (isinstance(event, SubscriptionPlanChanged) and event.change == "upgrade"),
        carry_over=rules[0],
        traffic_reset=rules[1],
    )


def next_desired(current: Desired | None, incoming: Desired) -> Desired | None:
    """The state to bring the panel to after ``incoming``; None when nothing changes.

    Events can arrive again (a replay, a redelivery under a new id), so a change is taken
    only when it is newer than the recorded one: billing's revision says which is. Only
    then may an end move earlier. Events without a revision were written before refunds
    existed and before any event with one: they only ever extended, so the later end wins,
    and once a revision is recorded they are older than it.
    """
    if current is None:
        return incoming
    if incoming.revision is None:
        if current.revision is not None or incoming.shortened:
            return None
        merged = Desired(
            expire=max(current.expire, incoming.expire),
            traffic_limit_bytes=incoming.traffic_limit_bytes,
            revision=None,
            renewal=incoming.renewal,
            # Written before grace periods: the expiry is the paid end.
            period_end=max(current.expire, incoming.expire),
        )
        return None if replace(merged, renewal=current.renewal) == current else merged
    if current.revision is not None and incoming.revision <= current.revision:
        return None
    return incoming


_NEW_PLACEMENT = (
    insert(Placement)
    .values(
        **bound(
            "subscription_id",
            "customer_id",
            "region",
            "panel_id",
            "panel_username",
            "protocol",
            "desired_expire",
            "desired_traffic_limit_bytes",
            "desired_revision",
            "shortened",
            "desired_period_end",
            "renewal_due",
            "carry_over",
            "traffic_reset",
            "next_attempt_at",
            "trace_context",
        ),
        desired_version=1,
        desired_state=ACTIVE,
        carried_bytes=0,
        applied_version=0,
        on_panel=False,
        attempts=0,
        failure_reported=False,
        gave_up=False,
    )
    .on_conflict_do_nothing(index_elements=[Placement.subscription_id])
    .returning(Placement.subscription_id)
)


async def record_desired_state(
    event: SubscriptionChange,
    ctx: MessageContext,
    *,
    panels: PanelDirectory,
    default_region: str,
    wakeup: Wakeup,
) -> None:
    session = ctx.session
    placement = await _locked(session, event.subscription_id)
    if placement is None:
        incoming = desired_of(event, None)
        if incoming is None:
            log.warning(
                "a stage change of a subscription with no panel user: nothing to do",
                extra={"subscription_id": str(event.subscription_id), "event": event.event_type},
            )
            return
        now = datetime.now(UTC)
        region = _region_of(event, panels, default_region)
        protocol = event.protocol if isinstance(event, SubscriptionActivated) else None
        # Chosen from the directory's view (no call): None when nothing can take the user
        # yet, and the worker chooses when it comes to it.
        choice = panels.place(region, protocol) if panels.loaded else None
        if choice is not None and choice.fallback:
            log.warning(
                "region full or unhealthy: placed in a fallback region",
                extra={"subscription_id": str(event.subscription_id), "region": choice.region},
            )
        created = await session.scalar(
            _NEW_PLACEMENT,
            {
                "subscription_id": event.subscription_id,
                "customer_id": event.customer_id,
                "region": choice.region if choice is not None else region,
                "panel_id": choice.panel_id if choice is not None else None,
                "panel_username": panel_username(event.subscription_id),
                "protocol": protocol,
                "desired_expire": incoming.expire,
                "desired_traffic_limit_bytes": incoming.traffic_limit_bytes,
                "desired_revision": incoming.revision,
                "shortened": incoming.shortened,
                "desired_period_end": incoming.period_end,
                # The first event seen may be an extension (its user may be on the panel).
                "renewal_due": incoming.renewal,
                "carry_over": incoming.carry_over,
                "traffic_reset": incoming.traffic_reset,
                "next_attempt_at": now,
                "trace_context": trace_carrier(),
            },
        )
        if created is not None:
            ctx.after_commit(wakeup.set)
            return
        placement = await _locked(session, event.subscription_id)
        assert placement is not None
    current = Desired(
        expire=placement.desired_expire,
        traffic_limit_bytes=placement.desired_traffic_limit_bytes,
        revision=placement.desired_revision,
        shortened=placement.shortened,
        renewal=placement.renewal_due,
        state=placement.desired_state,
        period_end=placement.desired_period_end,
        carry_over=placement.carry_over,
        traffic_reset=placement.traffic_reset,
    )
    incoming = desired_of(event, current)
    assert incoming is not None
    change = next_desired(current, incoming)
    if change is None:
        log.info(
            "subscription event older than the recorded state: nothing to change",
            extra={"subscription_id": str(event.subscription_id), "revision": event.revision},
        )
        return
    now = datetime.now(UTC)
    placement.desired_expire = change.expire
    placement.desired_traffic_limit_bytes = change.traffic_limit_bytes
    placement.desired_revision = change.revision
    placement.shortened = change.shortened
    placement.desired_state = change.state
    if change.state == SUSPENDED and _disabled_as_desired(placement):
        # A refund that ended access disabled the user already: the stage is recorded, and
        # the panel is left as it is.
        placement.updated_at = now
        return
    placement.desired_period_end = change.period_end
    placement.carry_over = change.carry_over
    placement.traffic_reset = change.traffic_reset
    if change.renewal:
        placement.extra_bytes = 0  # a new allowance: the packs were for the old one
    if change.renewal and not placement.renewal_due:
        # Measured again for this renewal; one still pending keeps what it measured
        # (after its reset the panel would report the old limit as unused).
        placement.renewal_due = True
        placement.carry_pending = None if change.carries else 0
    placement.desired_version += 1
    placement.attempts = 0
    placement.next_attempt_at = now
    placement.failure_reported = False
    placement.gave_up = False
    placement.trace_context = trace_carrier()
    placement.updated_at = now
    ctx.after_commit(wakeup.set)


def _region_of(event: SubscriptionChange, panels: PanelDirectory, default_region: str) -> str:
    """The region the customer chose, if provisioning has it; else the default one (a
    region removed since the customer saw it, an event written before choices)."""
    chosen = event.region if isinstance(event, SubscriptionActivated) else None
    if chosen is None:
        return default_region
    if panels.loaded and not panels.has_region(chosen):
        log.warning(
            "the customer's region is unknown: placed in the default region",
            extra={"subscription_id": str(event.subscription_id), "region": chosen},
        )
        return default_region
    return chosen


def _disabled_as_desired(placement: Placement) -> bool:
    """The panel user is disabled, and nothing is pending for it."""
    return (
        placement.on_panel
        and placement.panel_status == "disabled"
        and placement.applied_version == placement.desired_version
    )


# Statements run for every subscription change are built once: building one costs more
# CPU than running it.
_LOCKED = (
    select(Placement)
    .where(Placement.subscription_id == bindparam("subscription_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_APPLIED = text(
    """
    UPDATE placements
    SET applied_version = :applied, on_panel = :present, attempts = 0, lease_until = NULL,
        last_error = NULL, updated_at = now(), panel_status = :status,
        panel_id = coalesce(panel_id, :panel), region = CASE WHEN panel_id IS NULL THEN :region
        ELSE region END
    WHERE subscription_id = :placement
    """
)
_APPLIED_WITH_URL = text(
    """
    UPDATE placements
    SET applied_version = :applied, on_panel = :present, attempts = 0, lease_until = NULL,
        last_error = NULL, updated_at = now(), subscription_url = :url, panel_status = :status,
        panel_id = coalesce(panel_id, :panel), region = CASE WHEN panel_id IS NULL THEN :region
        ELSE region END
    WHERE subscription_id = :placement
    """
)


# The user is gone: so are its link and what it had carried over.
_REMOVED = text(
    """
    UPDATE placements
    SET applied_version = :applied, on_panel = false, attempts = 0, lease_until = NULL,
        last_error = NULL, updated_at = now(), subscription_url = NULL, panel_status = NULL,
        renewal_due = false, carry_pending = NULL, carried_bytes = 0, extra_bytes = 0
    WHERE subscription_id = :placement
    """
)


_CARRY_MEASURED = text(
    """
    UPDATE placements SET carry_pending = :carry
    WHERE subscription_id = :placement AND renewal_due AND carry_pending IS NULL
    """
)
# The renewal is done unless another came meanwhile (a newer desired version): that one
# still resets, with the remainder measured before the first reset.
_RENEWED = text(
    """
    UPDATE placements
    SET renewal_due = false, carried_bytes = :carried, carry_pending = NULL
    WHERE subscription_id = :placement AND desired_version = :applied
    """
)


async def _locked(session: AsyncSession, subscription_id: UUID) -> Placement | None:
    placement: Placement | None = await session.scalar(
        _LOCKED, {"subscription_id": subscription_id}
    )
    return placement


@dataclass(frozen=True, slots=True)
class Claimed:
    subscription_id: UUID
    customer_id: UUID
    region: str
    panel_id: str | None
    panel_username: str
    desired_expire: datetime
    desired_traffic_limit_bytes: int
    desired_version: int
    shortened: bool
    on_panel: bool
    attempts: int
    failure_reported: bool
    trace_context: dict[str, str] | None
    renewal_due: bool = False
    carry_pending: int | None = None
    carried_bytes: int = 0
    extra_bytes: int = 0
    desired_state: str = ACTIVE
    desired_period_end: datetime | None = None
    subscription_url: str | None = None
    traffic_reset: str = "none"
    panel_status: str | None = None
    """The user's status when the worker took it, as last granted or seen."""
    repair_version: int | None = None
    protocol: str | None = None
    protocols: tuple[str, ...] = ()
    """What the panel user is given: the chosen protocol where the panel offers it; empty,
    every protocol of the panel."""

    def data_limit(self, carry: int) -> int:
        """The period's allowance plus what was carried over and the traffic packs bought
        for it; unlimited stays unlimited."""
        allowance = self.desired_traffic_limit_bytes
        return allowance + carry + self.extra_bytes if allowance else 0

    def desired_user(self, now: datetime, carry: int | None = None) -> DesiredUser:
        """The panel user; disabled when its access is over (a refund ended it) or billing
        suspended it."""
        return DesiredUser(
            username=self.panel_username,
            expires_at=int(self.desired_expire.timestamp()),
            traffic_limit_bytes=self.data_limit(self.carried_bytes if carry is None else carry),
            traffic_reset=self.traffic_reset,
            protocols=self.protocols,
            note=f"customer {self.customer_id} subscription {self.subscription_id}",
            status="active"
            if self.desired_state == ACTIVE and self.desired_expire > now
            else "disabled",
        )


@dataclass(frozen=True, slots=True)
class Applied:
    """What the panel has after the worker's calls."""

    user: PanelUser | None
    carried: int | None = None
    """The remainder carried into a renewal whose usage reset was done."""
    removed: bool = False
    """The user was deleted (or was not there)."""
    created: bool = False
    """The user was created: links signed for an earlier one are no longer served."""

    @property
    def data_limit(self) -> int:
        return (self.user.traffic_limit_bytes or 0) if self.user is not None else 0


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
              desired_traffic_limit_bytes, desired_version, shortened, on_panel, attempts,
              failure_reported, trace_context, renewal_due, carry_pending, carried_bytes,
              extra_bytes, desired_state, desired_period_end, subscription_url, traffic_reset,
              panel_status, repair_version, protocol
    """
)


class PlacementWorker:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        panels: PanelDirectory,
        concurrency: int,
        lease: timedelta,
        retry: RetryPolicy,
        report_failure_after_attempts: int,
        clock: Clock | None = None,
        link_base_url: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._link_base_url = link_base_url
        self._outbox = outbox
        self._panels = panels
        self._concurrency = concurrency
        self._lease = lease
        self._retry = retry
        self._report_after = report_failure_after_attempts
        # Whether access is over is judged by the platform's clock (tests move it).
        self._clock = clock or SystemClock()

    async def step(self) -> int:
        """Apply one batch of pending placements; returns how many were claimed.

        The panel calls are made concurrently, outside any transaction; their results are
        then written in one transaction for the whole batch.
        """
        rows = await claim(self._sessions, _CLAIM, lease=self._lease, limit=self._concurrency)
        claimed = [self._given_protocol(self._placed(Claimed(**row))) for row in rows]
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._apply(placement) for placement in claimed))
        async with transaction(self._sessions) as session:
            for placement, result in zip(claimed, results, strict=True):
                with continuing_trace("placement record", placement.trace_context):
                    if isinstance(result, PanelError):
                        await self._failed(session, placement, result)
                    else:
                        await self._succeeded(session, placement, result)
        return len(claimed)

    def _placed(self, placement: Claimed) -> Claimed:
        """A placement that waited for a panel gets one now, if its region (or a fallback)
        has one that can take it; the choice is recorded with the result, success or not,
        so that a retry goes to the same panel."""
        if placement.panel_id is not None or not placement.desired_user(self._clock.now()).active:
            return placement
        choice = self._panels.place(placement.region, placement.protocol)
        if choice is None:
            return placement
        log.info(
            "placement given a panel",
            extra={"subscription_id": str(placement.subscription_id), "panel": choice.panel_id},
        )
        return replace(placement, panel_id=choice.panel_id, region=choice.region)

    def _given_protocol(self, placement: Claimed) -> Claimed:
        """The chosen protocol alone where the placement's panel offers it; where it does
        not (no panel of the region did, or a failover moved the user), the panel's own
        protocols, said in the log rather than dropped in silence."""
        config = self._panels.config(placement.panel_id or "")
        if placement.protocol is None or config is None:
            return placement
        if placement.protocol in config.protocols:
            return replace(placement, protocols=(placement.protocol,))
        log.warning(
            "the chosen protocol is not on the panel: the user gets the panel's protocols",
            extra={
                "subscription_id": str(placement.subscription_id),
                "panel": placement.panel_id,
                "protocol": placement.protocol,
            },
        )
        return placement

    async def _apply(self, placement: Claimed) -> Applied | PanelError:
        with continuing_trace(
            "placement apply",
            placement.trace_context,
            subscription_id=str(placement.subscription_id),
            panel_id=placement.panel_id or "",
        ):
            try:
                if placement.panel_id is None:
                    if not placement.desired_user(self._clock.now()).active:
                        # Never placed, and no access wanted now: there is no user anywhere.
                        return Applied(None, removed=placement.desired_state == REMOVED)
                    raise PanelUnavailable(
                        f"no panel in region {placement.region} or its fallbacks can take a user"
                    )
                panel = self._panels.client(placement.panel_id)
                if placement.desired_state == REMOVED:
                    await panel.delete_user(placement.panel_username)
                    return Applied(None, removed=True)
                if not placement.renewal_due:
                    return await self._ensure_user(panel, placement)
                if placement.on_panel and placement.desired_user(self._clock.now()).active:
                    return await self._renew(panel, placement)
                # A user created now starts from zero, and one disabled needs no allowance:
                # the renewal is done with nothing carried.
                return await self._ensure_user(panel, placement, carried=0)
            except PanelError as exc:
                return exc

    async def _renew(self, panel: PanelClient, placement: Claimed) -> Applied:
        """A new paid period on an existing user: its usage count starts again, and its limit
        is the new allowance plus what was left (a customer who used it all is active again;
        one who renews early loses nothing).

        What was left is measured once, before the first reset, and kept: a retry after a
        reset would otherwise count the whole old limit as unused.
        """
        carry = placement.carry_pending
        if carry is None:
            user = await panel.get_user(placement.panel_username)
            if user is None:  # deleted on the panel by someone: a fresh user, nothing left
                return await self._ensure_user(panel, placement, carried=0)
            limit = user.traffic_limit_bytes
            carry = max(limit - user.used_traffic_bytes, 0) if limit else 0
            async with transaction(self._sessions) as session:
                await session.execute(
                    _CARRY_MEASURED,
                    {"placement": placement.subscription_id, "carry": carry},
                )
        if await panel.reset_usage(placement.panel_username) is None:
            return await self._ensure_user(panel, placement, carried=0)
        desired = placement.desired_user(self._clock.now(), carry)
        user = await panel.modify_user(desired)
        if user is None:
            raise PanelUnavailable("user gone between its reset and its modification")
        if not desired.matches(user):
            raise PanelRejected(200, f"panel kept a different state: {user}")
        return Applied(user, carried=carry)

    async def _ensure_user(
        self, panel: PanelClient, placement: Claimed, *, carried: int | None = None
    ) -> Applied:
        """The panel user as desired; none when access is over and there is no user to
        disable (the panel cannot create a disabled one, and none is needed)."""
        desired = placement.desired_user(self._clock.now())
        created = False
        if not desired.active:
            # Whether or not this worker made it: an earlier create may have lost its answer.
            user = await panel.modify_user(desired)
        elif placement.on_panel:
            user = await panel.modify_user(desired)
            if user is None:  # deleted on the panel by someone: create it again
                user, created = await panel.create_user(desired), True
        else:
            created = True
            try:
                user = await panel.create_user(desired)
            except UserExists:
                # An earlier attempt created it and the answer was lost: bring it up to date.
                modified = await panel.modify_user(desired)
                if modified is None:
                    raise PanelUnavailable("user exists but cannot be found") from None
                user = modified
        if user is not None and not desired.matches(user):
            raise PanelRejected(200, f"panel kept a different state: {user}")
        return Applied(user, carried=carried, created=created)

    def _taken_away(
        self, placement: Claimed, status: str, used: int, limit: int
    ) -> AccessStatusChanged:
        """Billing's end of access carried out: the stable link stops serving it, and the
        bot shows it (the panel watch sees only what the panel does by itself)."""
        return AccessStatusChanged(
            subscription_id=placement.subscription_id,
            customer_id=placement.customer_id,
            status=status,
            used_traffic_bytes=used,
            traffic_limit_bytes=limit,
            observed_at=self._clock.now(),
        )

    def _subscription_base(self, placement: Claimed) -> str:
        # The panel was in the directory for the call just made; a refresh since that
        # removed it leaves its base URL unknown, and a relative link is kept relative.
        config = self._panels.config(placement.panel_id or "")
        return config.subscription_base_url if config is not None else ""

    async def _succeeded(self, session: AsyncSession, placement: Claimed, applied: Applied) -> None:
        if applied.removed:
            await session.execute(
                _REMOVED,
                {"placement": placement.subscription_id, "applied": placement.desired_version},
            )
            if placement.on_panel:
                await self._outbox.add(session, self._taken_away(placement, REMOVED_STATUS, 0, 0))
            metrics.WORK_OUTCOMES.labels("provisioning", "placement", "done").inc()
            log.info(
                "panel user removed",
                extra={
                    "subscription_id": str(placement.subscription_id),
                    "panel": placement.panel_id,
                },
            )
            return
        user = applied.user
        # Access that was granted and is now shortened (a refund) is not granted again:
        # the customer hears of the refund from billing, not of "access ready".
        # Nor is a repair of drift on the panel, unless the user had to be created (a new link).
        granted = (
            user is not None
            and user.status == "active"
            and not (placement.shortened and placement.on_panel)
            and not (placement.repair_version == placement.desired_version and not applied.created)
        )
        # Marzban signs a fresh token into every user it answers with, and every token it
        # signed stays valid until the user's links are revoked: the customer keeps the
        # link they were given first, for as long as the panel user lives.
        url = (
            None
            if user is None
            else placement.subscription_url
            if placement.subscription_url is not None and not applied.created
            else absolute_subscription_url(
                user.subscription_url, self._subscription_base(placement)
            )
        )
        await session.execute(
            _APPLIED_WITH_URL if url is not None else _APPLIED,
            {
                "placement": placement.subscription_id,
                "applied": placement.desired_version,
                "present": user is not None,
                "url": url,
                "status": user.status if user is not None else None,
                "panel": placement.panel_id,
                "region": placement.region,
            },
        )
        if applied.carried is not None:
            await session.execute(
                _RENEWED,
                {
                    "placement": placement.subscription_id,
                    "applied": placement.desired_version,
                    "carried": applied.carried,
                },
            )
        if granted:
            assert url is not None
            assert user is not None
            assert placement.panel_id is not None
            link = await links.current_or_first(session, placement.customer_id)
            if link.issued_now:
                await self._outbox.add(session, link.issued(self._link_base_url))
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
                    traffic_limit_bytes=applied.data_limit,
                    paid_until=placement.desired_period_end,
                    protocol=placement.protocol if placement.protocols else None,
                    links=links.share_links(user.links),
                    stable_url=link.url(self._link_base_url),
                ),
            )
        elif (
            user is not None
            and user.status == DISABLED_STATUS
            and placement.panel_status != DISABLED_STATUS
        ):
            await self._outbox.add(
                session,
                self._taken_away(
                    placement, DISABLED_STATUS, user.used_traffic_bytes, applied.data_limit
                ),
            )
        metrics.WORK_OUTCOMES.labels("provisioning", "placement", "done").inc()
        log.info(
            "access granted" if granted else "access changed",
            extra={
                "subscription_id": str(placement.subscription_id),
                "panel": placement.panel_id,
                "status": user.status if user is not None else "none",
                "expire": placement.desired_expire.isoformat(),
            },
        )

    async def _failed(self, session: AsyncSession, placement: Claimed, error: PanelError) -> None:
        retryable = isinstance(error, PanelUnavailable)
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
                # A panel chosen for this attempt stays its panel: the create may have
                # reached it though its answer did not. One set meanwhile (a failover) wins.
                panel_id=func.coalesce(Placement.panel_id, placement.panel_id),
                region=case(
                    (Placement.panel_id.is_(None), placement.region), else_=Placement.region
                ),
            )
        )
        if report:
            await self._outbox.add(
                session,
                AccessProvisioningFailed(
                    subscription_id=placement.subscription_id,
                    customer_id=placement.customer_id,
                    region=placement.region,
                    reason=f"panel {placement.panel_id or '(none)'}: {error}"[:1024],
                    attempts=placement.attempts,
                    retryable=retryable,
                ),
            )


async def record_traffic(
    event: SubscriptionTrafficAdded, ctx: MessageContext, *, wakeup: Wakeup
) -> None:
    """A traffic pack paid: the panel user's limit takes billing's total extra for the
    current allowance. Newer by billing's revision only (a replay changes nothing)."""
    placement = await _locked(ctx.session, event.subscription_id)
    if placement is None:
        log.warning(
            "traffic added to a subscription with no panel user: nothing to change",
            extra={"subscription_id": str(event.subscription_id)},
        )
        return
    if placement.desired_revision is not None and event.revision <= placement.desired_revision:
        return
    now = datetime.now(UTC)
    placement.extra_bytes = event.extra_traffic_bytes
    placement.desired_revision = event.revision
    placement.desired_version += 1
    placement.attempts = 0
    placement.next_attempt_at = now
    placement.failure_reported = False
    placement.gave_up = False
    placement.trace_context = trace_carrier()
    placement.updated_at = now
    ctx.after_commit(wakeup.set)


@dataclass(frozen=True, slots=True)
class FailedPlacement:
    """A placement the worker stopped trying (the panel refused it) or is still retrying."""

    subscription_id: UUID
    panel_id: str | None
    attempts: int
    gave_up: bool
    last_error: str | None
    updated_at: datetime


_FAILED = text(
    """
    SELECT subscription_id, panel_id, attempts, gave_up, last_error, updated_at
    FROM placements
    WHERE applied_version < desired_version AND (gave_up OR attempts > 0)
      AND (CAST(:panel AS varchar) IS NULL OR panel_id = :panel)
    ORDER BY updated_at
    LIMIT :limit
    """
)
_RETRY = text(
    """
    UPDATE placements
    SET gave_up = false, attempts = 0, failure_reported = false, next_attempt_at = now(),
        lease_until = NULL, updated_at = now()
    WHERE gave_up AND applied_version < desired_version
      AND (CAST(:ids AS uuid[]) IS NULL OR subscription_id = ANY(CAST(:ids AS uuid[])))
      AND (CAST(:panel AS varchar) IS NULL OR panel_id = :panel)
    RETURNING subscription_id
    """
)


async def failed_placements(
    session: AsyncSession, *, panel: str | None = None, limit: int = 1000
) -> list[FailedPlacement]:
    """What the worker could not apply yet, oldest first: for an operator to look into."""
    rows = await session.execute(_FAILED, {"panel": panel, "limit": limit})
    return [FailedPlacement(**row._mapping) for row in rows]


async def retry_given_up(
    session: AsyncSession, *, subscription_ids: list[UUID] | None = None, panel: str | None = None
) -> list[UUID]:
    """Hand placements the worker gave up on (a panel refused them) back to it, once what
    the panel refused is fixed; returns those handed back. Retrying ones are left alone."""
    rows = await session.scalars(_RETRY, {"ids": subscription_ids, "panel": panel})
    return list(rows)
