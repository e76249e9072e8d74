"""Composition root of the gateway service: everything it runs is assembled here."""

from __future__ import annotations

from chassis.service import Service
from contracts.provisioning import AccessGranted, AccessLinkIssued, AccessStatusChanged
from gateway.links import projection
from gateway.links.endpoints import subscription_router
from gateway.models import metadata
from gateway.settings import GatewaySettings
from gateway.webhooks import webhooks_router


def build(settings: GatewaySettings) -> Service:
    service = Service(settings, metadata, migrations="gateway:migrations")
    service.app.include_router(webhooks_router(service.ingress, settings))

    consumer = service.consumer()
    consumer.handles(AccessLinkIssued)(projection.record_link)
    consumer.handles(AccessGranted)(projection.record_access)
    consumer.handles(AccessStatusChanged)(projection.record_status)
    service.app.include_router(
        subscription_router(
            service.sessions,
            title=settings.subscription_title,
            support_url=settings.subscription_support_url,
        )
    )
    return service
