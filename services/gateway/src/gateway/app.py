"""Composition root of the gateway service: everything it runs is assembled here."""

from __future__ import annotations

from chassis.service import Service
from gateway.models import metadata
from gateway.settings import GatewaySettings
from gateway.webhooks import webhooks_router


def build(settings: GatewaySettings) -> Service:
    service = Service(settings, metadata, migrations="gateway:migrations")
    service.app.include_router(webhooks_router(service.ingress, settings))
    return service
