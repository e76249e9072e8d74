"""Composition root of the billing service: everything it runs is assembled here."""

from billing.models import metadata
from billing.settings import BillingSettings
from chassis.service import Service


def build(settings: BillingSettings) -> Service:
    return Service(settings, metadata, migrations="billing:migrations")
