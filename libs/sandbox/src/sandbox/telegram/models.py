"""Bots, users, private chats and their messages, and how the Bot API writes them out.

Key order follows the Bot API server's serializers (``JsonUser``, ``JsonChat``,
``JsonMessage``, ``JsonCallbackQuery``); false booleans other than ``is_bot`` are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.telegram.entities import FormattedText
from sandbox.telegram.markup import InlineKeyboard, ReplyMarkup
from sandbox.telegram.media import PhotoSize
from sandbox.telegram.payments import Invoice, PaymentAttempt

MAX_BOT_ID = 2**54


def bot_id_from_token(token: str) -> int | None:
    """The bot id of a well-formed token (the digits before ':'), or None if malformed."""
    if not token or len(token) > 80 or "/" in token or token.startswith("0"):
        return None
    head, colon, _ = token.partition(":")
    if not colon or not head.isascii() or not head.isdigit():
        return None
    bot_id = int(head)
    return bot_id if 0 < bot_id < MAX_BOT_ID else None


@dataclass(frozen=True)
class BotProfile:
    token: str
    username: str
    first_name: str
    can_join_groups: bool = True
    can_read_all_group_messages: bool = False
    supports_inline_queries: bool = False

    def __post_init__(self) -> None:
        if bot_id_from_token(self.token) is None or self.token.endswith(":"):
            raise ValueError(f"malformed bot token {self.token!r}: expected <digits>:<secret>")

    @property
    def id(self) -> int:
        bot_id = bot_id_from_token(self.token)
        assert bot_id is not None  # checked in __post_init__
        return bot_id

    def user_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def get_me_json(self) -> dict[str, Any]:
        return {
            **self.user_json(),
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": self.supports_inline_queries,
            "supports_guest_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "has_topics_enabled": False,
            "allows_users_to_create_topics": False,
            "can_manage_bots": False,
        }


DEFAULT_BOT = BotProfile(
    token="1000000001:sandbox-telegram-bot-token",  # noqa: S106 - sandbox only, never valid
    username="sandbox_shop_bot",
    first_name="Sandbox Shop",
)


@dataclass(frozen=True)
class SimulatedUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False

    def user_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            body["last_name"] = self.last_name
        if self.username:
            body["username"] = self.username
        if self.language_code:
            body["language_code"] = self.language_code
        if self.is_premium:
            body["is_premium"] = True
        return body

    def chat_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "first_name": self.first_name}
        if self.last_name:
            body["last_name"] = self.last_name
        if self.username:
            body["username"] = self.username
        body["type"] = "private"
        return body


Sender = Literal["bot", "user"]


@dataclass
class ChatMessage:
    message_id: int
    sender: Sender
    date: int
    accepted_at: float
    text: FormattedText | None = None
    photo: tuple[PhotoSize, ...] = ()
    caption: FormattedText | None = None
    markup: ReplyMarkup | None = None
    link_preview_options: str | None = None
    reply_to_message_id: int | None = None
    protected: bool = False
    invoice: Invoice | None = None
    successful_payment: dict[str, Any] | None = None
    refunded_payment: dict[str, Any] | None = None
    edit_date: int | None = None
    deleted: bool = False

    @property
    def inline_keyboard(self) -> InlineKeyboard | None:
        return self.markup.inline if self.markup is not None else None

    @property
    def visible_text(self) -> str | None:
        if self.text is not None:
            return self.text.text
        return self.caption.text if self.caption is not None else None


@dataclass(frozen=True)
class CallbackAnswer:
    text: str
    show_alert: bool
    url: str
    cache_time: int
    answered_at: float


@dataclass
class CallbackQuery:
    id: str
    bot_id: int
    user_id: int
    message_id: int
    data: str
    created_at: float
    answer: CallbackAnswer | None = None


@dataclass
class PrivateChat:
    """A bot and a user; chat.id is the user's id. Both sides share one message_id sequence."""

    bot: BotProfile
    user: SimulatedUser
    chat_instance: str
    started: bool = False
    blocked: bool = False
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    callback_queries: list[CallbackQuery] = field(default_factory=list)
    payments: list[PaymentAttempt] = field(default_factory=list)
    _last_message_id: int = 0

    @property
    def id(self) -> int:
        return self.user.id

    def next_message_id(self) -> int:
        self._last_message_id += 1
        return self._last_message_id

    def add_message(self, message: ChatMessage) -> ChatMessage:
        self.messages[message.message_id] = message
        return message

    def live_message(self, message_id: int) -> ChatMessage | None:
        message = self.messages.get(message_id)
        return message if message is not None and not message.deleted else None

    def message_json(self, message: ChatMessage, *, nested: bool = False) -> dict[str, Any]:
        sender = self.bot.user_json() if message.sender == "bot" else self.user.user_json()
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "from": sender,
            "chat": self.user.chat_json(),
            "date": message.date,
        }
        if message.edit_date is not None:
            body["edit_date"] = message.edit_date
        if message.protected:
            body["has_protected_content"] = True
        replied = self.messages.get(message.reply_to_message_id or 0)
        if replied is not None and not replied.deleted and not nested:
            body["reply_to_message"] = self.message_json(replied, nested=True)
        if message.text is not None:
            body["text"] = message.text.text
            if message.text.entities:
                body["entities"] = message.text.entities_json()
            if message.link_preview_options is not None:
                body["link_preview_options"] = json.loads(message.link_preview_options)
        if message.photo:
            body["photo"] = [size.to_json() for size in message.photo]
            if message.caption is not None and message.caption.text:
                body["caption"] = message.caption.text
                if message.caption.entities:
                    body["caption_entities"] = message.caption.entities_json()
        if message.invoice is not None:
            body["invoice"] = message.invoice.to_json()
        if message.successful_payment is not None:
            body["successful_payment"] = message.successful_payment
        if message.refunded_payment is not None:
            body["refunded_payment"] = message.refunded_payment
        if message.inline_keyboard is not None:
            body["reply_markup"] = message.inline_keyboard.to_json()
        return body

    def callback_query_json(self, query: CallbackQuery, message: ChatMessage) -> dict[str, Any]:
        return {
            "id": query.id,
            "from": self.user.user_json(),
            "message": self.message_json(message),
            "chat_instance": self.chat_instance,
            "data": query.data,
        }

    def member_update_json(self, date: int, *, blocked: bool) -> dict[str, Any]:
        member = {"user": self.bot.user_json(), "status": "member"}
        kicked = {"user": self.bot.user_json(), "status": "kicked", "until_date": 0}
        return {
            "chat": self.user.chat_json(),
            "from": self.user.user_json(),
            "date": date,
            "old_chat_member": member if blocked else kicked,
            "new_chat_member": kicked if blocked else member,
        }


SentKind = Literal["sent", "edited"]


@dataclass(frozen=True)
class SentEvent:
    """One entry of the feed of what bots sent, numbered across all chats."""

    seq: int
    bot_id: int
    chat_id: int
    message_id: int
    kind: SentKind
    text: str | None
    caption: str | None
    reply_markup: dict[str, Any] | None
    accepted_at: float
    invoice: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "kind": self.kind,
            "text": self.text,
            "caption": self.caption,
            "reply_markup": self.reply_markup,
            "accepted_at": self.accepted_at,
            "invoice": self.invoice,
        }
