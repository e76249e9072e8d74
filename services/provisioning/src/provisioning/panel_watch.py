"""The panel watch: what the panel did to its users by itself, reported.

Marzban limits a user whose traffic ran out and expires one whose time passed, on its own
schedule; an operator may disable one by hand. The watch reads the panel's users a page
at a time, compares each of ours with the status last granted or seen, and publishes
``AccessStatusChanged`` for each that differs, in one transaction per page with the
outbox. The comparison is in the update itself, so two replicas watching at once report
a change once. The same pages feed the usage (``provisioning.usage``), in the same
transaction.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import metrics
from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from contracts.provisioning import AccessStatusChanged
from provisioning.panels.client import PanelError, PanelUser
from provisioning.panels.directory import PanelDirectory
from provisioning.usage import record_usage

log = logging.getLogger(__name__)

# One statement per page, whatever its size.
_SEEN = text(
    """
    UPDATE placements p SET panel_status = seen.status, updated_at = now()
    FROM unnest(CAST(:usernames AS text[]), CAST(:statuses AS text[])) AS seen(username, status)
    WHERE p.panel_username = seen.username AND p.on_panel AND p.panel_id = :panel
      AND p.panel_status IS DISTINCT FROM seen.status
      AND p.applied_version = p.desired_version
    RETURNING p.subscription_id, p.customer_id, p.panel_username
    """
)


class PanelWatch:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        panels: PanelDirectory,
        page_size: int = 500,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._panels = panels
        self._page_size = page_size

    async def step(self) -> int:
        """One pass over every panel's users; returns how many changes were reported.

        A user whose placement has work pending is left to the placement worker, which
        records the status it brings the user to.
        """
        reported = 0
        for panel in self._panels.panels:
            reported += await self._watch(panel.panel_id)
        return reported

    async def _watch(self, panel_id: str) -> int:
        reported, offset = 0, 0
        while True:
            try:
                client = self._panels.client(panel_id)
                users, total = await client.list_users(offset=offset, limit=self._page_size)
            except PanelError as exc:
                log.warning(
                    "the panel watch cannot read the panel",
                    extra={"panel": panel_id, "error": repr(exc)},
                )
                metrics.WORK_OUTCOMES.labels("provisioning", "panel_watch", "retry").inc()
                return reported
            ours = {user.username: user for user in users if user.username.startswith("vpn_")}
            async with transaction(self._sessions) as session:
                # Usage first: its statement locks the rows it changes in a fixed order.
                await record_usage(session, self._outbox, panel_id, ours)
                reported += await self._compare(session, panel_id, ours)
            offset += len(users)
            if not users or offset >= total:
                return reported

    async def _compare(
        self, session: AsyncSession, panel_id: str, ours: dict[str, PanelUser]
    ) -> int:
        if not ours:
            return 0
        rows = await session.execute(
            _SEEN,
            {
                "panel": panel_id,
                "usernames": list(ours),
                "statuses": [user.status for user in ours.values()],
            },
        )
        now = datetime.now(UTC)
        changes = []
        for row in rows:
            user = ours[row.panel_username]
            changes.append(
                AccessStatusChanged(
                    subscription_id=row.subscription_id,
                    customer_id=row.customer_id,
                    status=user.status,
                    used_traffic_bytes=user.used_traffic_bytes,
                    traffic_limit_bytes=user.traffic_limit_bytes or 0,
                    observed_at=now,
                )
            )
            log.info(
                "the panel changed a user's status",
                extra={"subscription_id": str(row.subscription_id), "status": user.status},
            )
        if changes:
            await self._outbox.add_many(session, list(changes))
            metrics.WORK_OUTCOMES.labels("provisioning", "panel_watch", "changed").inc(len(changes))
        return len(changes)
