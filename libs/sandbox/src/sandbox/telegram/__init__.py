"""Telegram Bot API emulator: the Bot API and a control API for simulated users.

``create_app(TelegramEmulator([BotProfile(token, username, first_name)]))`` serves
``/bot<token>/<method>`` as api.telegram.org does (see ``shared/reference/telegram.md``) and
``/sandbox/...`` for tests; ``TelegramSandboxControl`` is the client for the latter.
"""

from sandbox.control import SandboxControlError
from sandbox.telegram.app import create_app
from sandbox.telegram.control import (
    BotMessage,
    CallbackAnswer,
    CallbackQueryRecord,
    SandboxUser,
    TelegramSandboxControl,
    Transcript,
    TranscriptMessage,
    UserMessage,
)
from sandbox.telegram.emulator import TelegramEmulator
from sandbox.telegram.models import DEFAULT_BOT, BotProfile

__all__ = [
    "DEFAULT_BOT",
    "BotMessage",
    "BotProfile",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "SandboxControlError",
    "SandboxUser",
    "TelegramEmulator",
    "TelegramSandboxControl",
    "Transcript",
    "TranscriptMessage",
    "UserMessage",
    "create_app",
]
