"""The latest usage per subscription, projected from provisioning's batches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from billing.models import SubscriptionUsage as UsageRow
from billing.usage import record_usage
from contracts.provisioning import SubscriptionUsage, UsageReported

from .conftest import Billing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GIB = 1024**3


def _batch(panel: str, *usages: tuple[uuid.UUID, int, datetime]) -> UsageReported:
    return UsageReported(
        panel_id=panel,
        usages=tuple(
            SubscriptionUsage(
                subscription_id=subscription,
                customer_id=uuid.uuid5(uuid.NAMESPACE_URL, str(subscription)),
                used_traffic_bytes=used,
                traffic_limit_bytes=100 * GIB,
                observed_at=at,
            )
            for subscription, used, at in usages
        ),
    )


async def test_a_batch_keeps_each_subscriptions_latest_usage(billing: Billing) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    at = datetime.now(UTC).replace(microsecond=0)
    await billing.consume(_batch("eu-1", (first, 10 * GIB, at), (second, 0, at)), record_usage)
    await billing.consume(
        _batch("eu-1", (first, 30 * GIB, at + timedelta(minutes=1))), record_usage
    )
    # A late report from the panel ``second`` was moved away from changes nothing.
    await billing.consume(
        _batch("eu-2", (second, 5 * GIB, at - timedelta(minutes=1))), record_usage
    )

    async with billing.sessions() as session:
        rows = await session.execute(
            select(
                UsageRow.subscription_id, UsageRow.used_traffic_bytes, UsageRow.customer_id
            ).where(UsageRow.subscription_id.in_([first, second]))
        )
        found = {row.subscription_id: (row.used_traffic_bytes, row.customer_id) for row in rows}
    assert found == {
        first: (30 * GIB, uuid.uuid5(uuid.NAMESPACE_URL, str(first))),
        second: (0, uuid.uuid5(uuid.NAMESPACE_URL, str(second))),
    }
