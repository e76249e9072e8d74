"""Usage: the traffic each panel counts, published in batches, and its thresholds told.

The panel watch hands every page of a panel's users to :func:`record_usage`, in the
page's transaction. One statement compares the page with what was last seen, records
what changed and answers, for those only, the threshold they had reached before; the
page's usage is then published as one ``UsageReported`` and each threshold newly reached
as ``TrafficThresholdReached``. The rows that changed are locked by the statement itself
and compared as they are after any concurrent look, so two replicas watching the same
panel record a change, and tell a threshold, once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from chassis import metrics
from chassis.messaging.outbox import Outbox
from contracts.envelope import Event
from contracts.provisioning import (
    USAGE_BATCH_MAX,
    SubscriptionUsage,
    TrafficThresholdReached,
    UsageReported,
)
from provisioning.domain.usage import reached, to_announce
from provisioning.panels.client import PanelUser

log = logging.getLogger(__name__)

# One statement per page. The sub-select locks the rows whose usage changed, in one order
# for every replica, and reads them as they are once locked: its ``threshold_before`` is
# what a concurrent look left, not the statement's snapshot.
_OBSERVED = text(
    """
    UPDATE placements p
    SET seen_used_bytes = seen.used, seen_limit_bytes = seen.limit_bytes,
        announced_threshold = seen.threshold
    FROM (
        SELECT q.subscription_id, q.announced_threshold AS threshold_before, s.username,
               s.used, s.limit_bytes, s.threshold
        FROM placements q
        JOIN unnest(CAST(:usernames AS text[]), CAST(:used AS bigint[]),
                    CAST(:limits AS bigint[]), CAST(:thresholds AS smallint[]))
             AS s(username, used, limit_bytes, threshold)
          ON q.panel_username = s.username
        WHERE q.panel_id = :panel AND q.on_panel
          AND (q.seen_used_bytes IS DISTINCT FROM s.used
               OR q.seen_limit_bytes IS DISTINCT FROM s.limit_bytes)
        ORDER BY q.subscription_id
        FOR UPDATE OF q
    ) AS seen
    WHERE p.subscription_id = seen.subscription_id
    RETURNING p.subscription_id, p.customer_id, seen.username, seen.threshold_before,
              p.announced_threshold, p.desired_period_end, p.traffic_reset
    """
)


async def record_usage(
    session: AsyncSession, outbox: Outbox, panel_id: str, ours: Mapping[str, PanelUser]
) -> int:
    """Record and publish the usage of ``ours`` (a page's users of the platform, by name)
    that changed since the last look; returns how many subscriptions it reported."""
    if not ours:
        return 0
    users = list(ours.values())
    rows = await session.execute(
        _OBSERVED,
        {
            "panel": panel_id,
            "usernames": [user.username for user in users],
            "used": [user.used_traffic_bytes for user in users],
            "limits": [user.traffic_limit_bytes or 0 for user in users],
            "thresholds": [
                reached(user.used_traffic_bytes, user.traffic_limit_bytes or 0) for user in users
            ],
        },
    )
    now = datetime.now(UTC)
    usages: list[SubscriptionUsage] = []
    events: list[Event] = []
    for row in rows:
        user = ours[row.username]
        usages.append(
            SubscriptionUsage(
                subscription_id=row.subscription_id,
                customer_id=row.customer_id,
                used_traffic_bytes=user.used_traffic_bytes,
                traffic_limit_bytes=user.traffic_limit_bytes or 0,
                observed_at=now,
            )
        )
        threshold = to_announce(row.threshold_before, row.announced_threshold, user.status)
        if threshold is None:
            continue
        assert user.traffic_limit_bytes  # a threshold is only reached of a limit
        events.append(
            TrafficThresholdReached(
                subscription_id=row.subscription_id,
                customer_id=row.customer_id,
                threshold=threshold,
                used_traffic_bytes=user.used_traffic_bytes,
                traffic_limit_bytes=user.traffic_limit_bytes,
                traffic_reset=row.traffic_reset,
                period_end=row.desired_period_end,
                observed_at=now,
            )
        )
        log.info(
            "traffic threshold reached",
            extra={"subscription_id": str(row.subscription_id), "threshold": threshold},
        )
    for start in range(0, len(usages), USAGE_BATCH_MAX):
        batch = tuple(usages[start : start + USAGE_BATCH_MAX])
        events.append(UsageReported(panel_id=panel_id, usages=batch))
    if events:
        await outbox.add_many(session, events)
    metrics.WORK_OUTCOMES.labels("provisioning", "usage", "reported").inc(len(usages))
    return len(usages)
