"""Composition root of the provisioning service: everything it runs is assembled here."""

from chassis.service import Service
from provisioning.models import metadata
from provisioning.settings import ProvisioningSettings


def build(settings: ProvisioningSettings) -> Service:
    return Service(settings, metadata, migrations="provisioning:migrations")
