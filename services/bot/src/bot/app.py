"""Composition root of the bot service: everything it runs is assembled here."""

from bot.models import metadata
from bot.settings import BotSettings
from chassis.service import Service


def build(settings: BotSettings) -> Service:
    return Service(settings, metadata, migrations="bot:migrations")
