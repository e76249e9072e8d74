"""Composition root of the gateway service: everything it runs is assembled here."""

from chassis.service import Service
from gateway.models import metadata
from gateway.settings import GatewaySettings


def build(settings: GatewaySettings) -> Service:
    return Service(settings, metadata, migrations="gateway:migrations")
