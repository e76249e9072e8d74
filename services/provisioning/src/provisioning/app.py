"""Composition root of the provisioning service: everything it runs is assembled here."""

from __future__ import annotations

import functools
import os
import sys
from datetime import timedelta

from chassis.service import Service
from chassis.worker import RetryPolicy, Wakeup, run_worker
from contracts.billing import (
    SubscriptionActivated,
    SubscriptionExtended,
    SubscriptionPlanChanged,
    SubscriptionRemoved,
    SubscriptionShortened,
    SubscriptionSuspended,
    SubscriptionTrafficAdded,
)
from contracts.bot import AccessChangeRequested
from provisioning.catalog import CatalogKeeper
from provisioning.changes import record_change
from provisioning.domain.health import Thresholds
from provisioning.failover import Failover
from provisioning.health import HealthProber
from provisioning.models import metadata
from provisioning.panel_watch import PanelWatch
from provisioning.panels.directory import PanelDirectory
from provisioning.placements import PlacementWorker, record_desired_state, record_traffic
from provisioning.reconcile import Reconciler
from provisioning.settings import ProvisioningSettings


def build(settings: ProvisioningSettings) -> Service:
    service = Service(settings, metadata, migrations="provisioning:migrations")
    directory = PanelDirectory(
        sessions=service.sessions,
        environment=settings.secrets(os.environ),
        timeout_s=settings.marzban_timeout_s,
        production=settings.is_production,
        default_region=settings.region,
    )
    wakeup = Wakeup()
    record = functools.partial(
        record_desired_state, panels=directory, default_region=settings.region, wakeup=wakeup
    )
    consumer = service.consumer()
    consumer.handles(SubscriptionActivated)(record)
    consumer.handles(SubscriptionExtended)(record)
    consumer.handles(SubscriptionPlanChanged)(record)
    consumer.handles(SubscriptionTrafficAdded)(functools.partial(record_traffic, wakeup=wakeup))
    consumer.handles(SubscriptionShortened)(record)
    consumer.handles(SubscriptionSuspended)(record)
    consumer.handles(SubscriptionRemoved)(record)
    # A customer's move to another region or protocol (provisioning.changes).
    consumer.handles(AccessChangeRequested)(
        functools.partial(record_change, panels=directory, wakeup=wakeup)
    )

    worker = PlacementWorker(
        sessions=service.sessions,
        outbox=service.outbox,
        panels=directory,
        concurrency=settings.worker_concurrency,
        lease=timedelta(seconds=settings.worker_lease_s),
        retry=RetryPolicy(settings.retry_first_delay_s, settings.retry_max_delay_s),
        report_failure_after_attempts=settings.report_failure_after_attempts,
        clock=settings.clock(),
        link_base_url=settings.link_base_url,
    )
    keeper = CatalogKeeper(service.sessions, service.outbox, directory, settings)
    service.background(
        "panel-directory",
        functools.partial(
            run_worker,
            "panel-directory",
            keeper.step,
            # Operators change panels from another process: found by reading again.
            Wakeup(),
            poll_interval_s=settings.directory_refresh_s,
        ),
    )
    prober = HealthProber(
        service.sessions,
        service.outbox,
        directory,
        Thresholds(down_after=settings.health_down_after, slow_ms=settings.health_slow_ms),
    )
    service.background(
        "health-prober",
        functools.partial(
            run_worker,
            "health-prober",
            prober.step,
            Wakeup(),  # by the clock alone
            poll_interval_s=settings.health_probe_interval_s,
            batch_size=sys.maxsize,
        ),
    )
    failover = Failover(
        sessions=service.sessions,
        panels=directory,
        placements_wakeup=wakeup,
        after=timedelta(seconds=settings.failover_after_s),
        clock=settings.clock(),
    )
    service.background(
        "failover",
        functools.partial(
            run_worker,
            "failover",
            failover.step,
            Wakeup(),  # health is found by the prober, in the database: looked for
            poll_interval_s=settings.failover_poll_s,
            batch_size=failover.batch,
        ),
    )
    service.background(
        "placement-worker",
        functools.partial(
            run_worker,
            "placements",
            worker.step,
            wakeup,
            poll_interval_s=settings.worker_poll_interval_s,
            batch_size=settings.worker_concurrency,
        ),
    )
    watch = PanelWatch(sessions=service.sessions, outbox=service.outbox, panels=directory)
    service.background(
        "panel-watch",
        functools.partial(
            run_worker,
            "panel-watch",
            watch.step,
            # Nothing announces what the panel does by itself: found by looking.
            Wakeup(),
            poll_interval_s=settings.panel_watch_interval_s,
            batch_size=sys.maxsize,  # a pass covers every user: always rest after one
        ),
    )
    reconciler = Reconciler(
        sessions=service.sessions,
        outbox=service.outbox,
        panels=directory,
        placements_wakeup=wakeup,
        concurrency=settings.worker_concurrency,
        clock=settings.clock(),
    )
    service.background(
        "reconcile",
        functools.partial(
            run_worker,
            "reconcile",
            reconciler.step,
            # Drift is made behind our back: found by looking.
            Wakeup(),
            poll_interval_s=settings.reconcile_interval_s,
            batch_size=sys.maxsize,  # a cycle covers every panel: always rest after one
        ),
    )
    service.on_stop(directory.aclose)
    return service
