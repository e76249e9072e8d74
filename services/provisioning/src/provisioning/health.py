"""The health prober: every panel probed on a schedule, its health recorded, and each
change published (``PanelHealthChanged``) and exported as a metric.

A probe is a panel call, made outside any transaction; its result is written under the
panel row's lock, with the outbox, so that two replicas probing at once count each
failure they saw and publish a change once. A panel found down opens its circuit in the
directory (calls to it fail fast, its customers wait or move); the next probe that
answers closes it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis.db import transaction
from chassis.messaging.outbox import Outbox
from contracts.provisioning import PanelHealthChanged
from provisioning.domain.health import Answered, Assessment, Failed, Failure, Thresholds, assess
from provisioning.domain.placement import Health
from provisioning.panels.client import (
    PanelCredentialsRefused,
    PanelError,
    PanelIncompatible,
    PanelProbe,
)
from provisioning.panels.directory import PanelDirectory
from provisioning.regions import PanelConfig

log = logging.getLogger(__name__)

PANEL_HEALTH = Gauge(
    "provisioning_panel_health",
    "1 for the health each panel is in now, 0 for the others",
    ["panel", "region", "health"],
)
PROBE_LATENCY = Gauge(
    "provisioning_panel_probe_latency_seconds",
    "How long the panel's last successful probe took",
    ["panel"],
)

_LOCKED = text("SELECT health, failures FROM panels WHERE panel_id = :panel FOR UPDATE")
_RECORD = text(
    """
    UPDATE panels
    SET health = CAST(:health AS varchar), health_reason = CAST(:reason AS text),
        failures = :failures, latency_ms = CAST(:latency_ms AS integer),
        version = coalesce(CAST(:version AS varchar), version), checked_at = now(),
        health_since = CASE WHEN health <> CAST(:health AS varchar) OR health_since IS NULL
                            THEN now() ELSE health_since END
    WHERE panel_id = :panel
    """
)


@dataclass
class HealthProber:
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    panels: PanelDirectory
    thresholds: Thresholds

    async def step(self) -> int:
        """Probe every panel once; returns how many changed health."""
        changed = 0
        for panel in self.panels.panels:
            changed += await self._probe(panel)
        if changed:
            await self.panels.refresh()  # placement and the circuit follow at once
        return changed

    async def _probe(self, panel: PanelConfig) -> int:
        client = self.panels.probe_client(panel.panel_id)
        version: str | None = None
        result: Answered | Failed | Assessment
        if client is None:
            problem = self.panels.problem(panel.panel_id) or "no client"
            result = Assessment(Health.MISCONFIGURED, problem, 0)
        else:
            started = time.monotonic()
            try:
                probe: PanelProbe = await client.probe()
            except PanelIncompatible as exc:
                result = Failed(Failure.INCOMPATIBLE, str(exc))
            except PanelCredentialsRefused as exc:
                result = Failed(Failure.CREDENTIALS, str(exc))
            except PanelError as exc:
                result = Failed(Failure.UNAVAILABLE, str(exc))
            else:
                version = probe.version
                result = Answered(
                    latency_ms=int((time.monotonic() - started) * 1000),
                    nodes_down=tuple(node.name for node in probe.nodes_down),
                    missing_protocols=tuple(sorted(set(panel.protocols) - probe.protocols)),
                )
        async with transaction(self.sessions) as session:
            row = (await session.execute(_LOCKED, {"panel": panel.panel_id})).one_or_none()
            if row is None:  # removed meanwhile
                return 0
            assessment = (
                result
                if isinstance(result, Assessment)
                else assess(row.failures, result, self.thresholds)
            )
            latency = result.latency_ms if isinstance(result, Answered) else None
            reason = (assessment.reason or "")[:1024] or None
            await session.execute(
                _RECORD,
                {
                    "panel": panel.panel_id,
                    "health": assessment.health.value,
                    "reason": reason,
                    "failures": assessment.failures,
                    "latency_ms": latency,
                    "version": version,
                },
            )
            previous = Health(row.health)
            if previous is not assessment.health:
                await self.outbox.add(
                    session,
                    PanelHealthChanged(
                        panel_id=panel.panel_id,
                        region=panel.region,
                        health=assessment.health.value,
                        previous=previous.value,
                        reason=reason,
                        latency_ms=latency,
                        changed_at=datetime.now(UTC),
                    ),
                )
        for health in Health:
            PANEL_HEALTH.labels(panel.panel_id, panel.region, health.value).set(
                1 if health is assessment.health else 0
            )
        if latency is not None:
            PROBE_LATENCY.labels(panel.panel_id).set(latency / 1000)
        if previous is assessment.health:
            return 0
        log.log(
            logging.INFO if assessment.health is Health.HEALTHY else logging.WARNING,
            "panel health changed",
            extra={
                "panel": panel.panel_id,
                "health": assessment.health.value,
                "previous": previous.value,
                "reason": assessment.reason,
            },
        )
        return 1
