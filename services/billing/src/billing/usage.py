"""The latest traffic used per subscription, as provisioning reads it from the panels.

Kept for the partner and admin API (used and remaining traffic of a subscription): a
projection of ``UsageReported``, one statement per batch. Reports can arrive out of
order (a subscription moved to another panel reports under that panel's key), so the
later observation wins.
"""

from __future__ import annotations

from sqlalchemy import text

from chassis.messaging.consumer import MessageContext
from contracts.provisioning import UsageReported

_LATEST = text(
    """
    INSERT INTO subscription_usages AS u
        (subscription_id, customer_id, used_traffic_bytes, traffic_limit_bytes, observed_at)
    SELECT * FROM unnest(CAST(:subscriptions AS uuid[]), CAST(:customers AS uuid[]),
                         CAST(:used AS bigint[]), CAST(:limits AS bigint[]),
                         CAST(:observed AS timestamptz[]))
    ON CONFLICT (subscription_id) DO UPDATE
    SET used_traffic_bytes = EXCLUDED.used_traffic_bytes,
        traffic_limit_bytes = EXCLUDED.traffic_limit_bytes, observed_at = EXCLUDED.observed_at
    WHERE u.observed_at < EXCLUDED.observed_at
    """
)


async def record_usage(event: UsageReported, ctx: MessageContext) -> None:
    usages = event.usages
    await ctx.session.execute(
        _LATEST,
        {
            "subscriptions": [u.subscription_id for u in usages],
            "customers": [u.customer_id for u in usages],
            "used": [u.used_traffic_bytes for u in usages],
            "limits": [u.traffic_limit_bytes for u in usages],
            "observed": [u.observed_at for u in usages],
        },
    )
