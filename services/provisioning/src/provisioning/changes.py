"""A subscriber's own changes from "My subscription": another region, another protocol.

A move to another region re-places the subscription as a failover does
(``failover.move``): a panel of the new region, offering the customer's protocol first, is
given to the placement; the placement worker creates the user there and grants the access
(the customer receives the new link); the old copy is disabled once the new one is
applied. A protocol change on a panel that offers it changes the panel user in place (the
protocols kept keep their credentials); on one that does not, it is a move to a panel of
the region that does. The consumer only records the change: no panel is called here.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, text

from chassis.messaging.consumer import MessageContext
from chassis.worker import Wakeup
from contracts.bot import AccessChangeRequested
from provisioning.failover import move
from provisioning.models import Placement
from provisioning.panels.directory import PanelDirectory

log = logging.getLogger(__name__)

# The panel user is brought to the placement's (changed) state by the worker, from now.
_DUE = text(
    """
    UPDATE placements
    SET protocol = :protocol, region = :region, panel_id = coalesce(:panel, panel_id),
        desired_version = desired_version + 1, attempts = 0, next_attempt_at = now(),
        failure_reported = false, gave_up = false, updated_at = now()
    WHERE subscription_id = :placement
    """
)
_PROTOCOL = text("UPDATE placements SET protocol = :protocol WHERE subscription_id = :placement")


async def record_change(
    event: AccessChangeRequested, ctx: MessageContext, *, panels: PanelDirectory, wakeup: Wakeup
) -> None:
    session = ctx.session
    placement = await session.scalar(
        select(Placement)
        .where(Placement.subscription_id == event.subscription_id)
        .with_for_update()
    )
    about = {"subscription_id": str(event.subscription_id), "request_id": str(event.request_id)}
    if placement is None or placement.customer_id != event.customer_id:
        log.warning("a change for a subscription the customer has no access of", extra=about)
        return
    if placement.desired_state != "active":
        log.warning("a change for access that is suspended or removed: nothing moves", extra=about)
        return
    region = event.region or placement.region
    protocol = event.protocol or placement.protocol
    if (region, protocol) == (placement.region, placement.protocol):
        log.info("a change to what the customer has already", extra=about)
        return
    if not panels.has_region(region):
        log.warning("a move to a region provisioning does not have", extra={**about, "to": region})
        return
    current = panels.config(placement.panel_id or "")
    if (
        region == placement.region
        and current is not None
        and (protocol is None or protocol in current.protocols)
    ):
        await session.execute(
            _DUE,
            {
                "placement": placement.subscription_id,
                "protocol": protocol,
                "region": region,
                "panel": None,
            },
        )
        log.info("protocol changed in place", extra={**about, "protocol": protocol})
        ctx.after_commit(wakeup.set)
        return
    choice = panels.place(region, protocol)
    if choice is None or choice.region != region or not choice.protocol_offered:
        # The bot offered what was available when it showed it; by now it is not.
        log.warning(
            "the region cannot take the customer with that protocol now: they stay",
            extra={**about, "to": region, "protocol": protocol},
        )
        return
    if placement.panel_id is None or placement.panel_id == choice.panel_id:
        await session.execute(
            _DUE,
            {
                "placement": placement.subscription_id,
                "protocol": protocol,
                "region": region,
                "panel": choice.panel_id,
            },
        )
    else:
        await session.execute(
            _PROTOCOL, {"placement": placement.subscription_id, "protocol": protocol}
        )
        await move(
            session, placement.panel_id, [(placement.subscription_id, choice.panel_id, region)]
        )
    log.info(
        "customer moved at their request",
        extra={**about, "from": placement.panel_id, "to": choice.panel_id, "protocol": protocol},
    )
    ctx.after_commit(wakeup.set)
