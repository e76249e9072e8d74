"""Telegram Bot API emulator: the Bot API and a control API for simulated users.

``create_app(TelegramEmulator([BotProfile(token, username, first_name)]))`` serves
``/bot<token>/<method>`` as api.telegram.org does (see ``shared/reference/telegram.md``) and
``/sandbox/...`` for tests; ``TelegramSandboxControl`` is the client for the latter. Payments
in Telegram Stars (invoices, pre-checkout, refunds, subscriptions) work as in
``shared/reference/payments.md`` §3.
"""

from sandbox.control import SandboxControlError
from sandbox.telegram.app import create_app
from sandbox.telegram.control import (
    BotMessage,
    BotStars,
    CallbackAnswer,
    CallbackQueryRecord,
    SandboxUser,
    StarsPayment,
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
    "BotStars",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "SandboxControlError",
    "SandboxUser",
    "StarsPayment",
    "TelegramEmulator",
    "TelegramSandboxControl",
    "Transcript",
    "TranscriptMessage",
    "UserMessage",
    "create_app",
]
