"""Composition root of the notifier service: everything it runs is assembled here."""

from chassis.service import Service
from notifier.models import metadata
from notifier.settings import NotifierSettings


def build(settings: NotifierSettings) -> Service:
    return Service(settings, metadata, migrations="notifier:migrations")
