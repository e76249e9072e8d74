"""Customer screens only in the sender's own private chat (aiogram with a recording session)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import AnswerCallbackQuery, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update

from bot.app import update_processor
from bot.settings import BotSettings

ALICE = {"id": 1001, "is_bot": False, "first_name": "Alice", "language_code": "en"}
BOB_CHAT = {"id": 2002, "type": "private", "first_name": "Bob"}
GROUP = {"id": -100123, "type": "supergroup", "title": "VPN fans"}


class RecordingSession(BaseSession):
    """Stands in for Telegram: records each call and answers it as Telegram would."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.calls.append(method)
        if isinstance(method, SendMessage):
            result: Any = {
                "message_id": 1,
                "date": 0,
                "chat": {"id": method.chat_id, "type": "supergroup", "title": "VPN fans"},
                "text": method.text,
            }
            return method.__returning__.model_validate(result, context={"bot": bot})  # type: ignore[no-any-return]
        return True  # type: ignore[return-value]

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    async def close(self) -> None:
        pass


async def feed(raw: dict[str, Any]) -> list[TelegramMethod[Any]]:
    session = RecordingSession()
    bot = Bot("123456:TEST", session=session)
    processor = update_processor(BotSettings(update_mode="polling"), bot)
    update = Update.model_validate(raw, context={"bot": bot})
    # No database context: a refused update must never get as far as needing one.
    await processor._dispatcher.feed_update(bot, update, ctx=None)
    return session.calls


def message(chat: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "update_id": 7,
        "message": {"message_id": 5, "date": 0, "chat": chat, "from": ALICE, "text": text},
    }


async def test_an_update_placed_in_someone_elses_private_chat_gets_no_answer() -> None:
    assert await feed(message(BOB_CHAT, "/subscription")) == []


@pytest.mark.parametrize("text", ["/subscription", "/start", "/buy@shop_bot"])
async def test_a_command_in_a_group_is_told_to_come_to_private(text: str) -> None:
    calls = await feed(message(GROUP, text))
    assert len(calls) == 1
    reply = calls[0]
    assert isinstance(reply, SendMessage)
    assert reply.chat_id == GROUP["id"]
    assert "private messages" in reply.text
    assert "http" not in reply.text


async def test_chatter_in_a_group_is_ignored() -> None:
    assert await feed(message(GROUP, "who sells VPN here?")) == []


async def test_a_button_pressed_in_a_group_is_answered_only_to_the_presser() -> None:
    calls = await feed(
        {
            "update_id": 8,
            "callback_query": {
                "id": "42",
                "from": ALICE,
                "chat_instance": "1",
                "data": "m:subscription",
                "message": {"message_id": 9, "date": 0, "chat": GROUP, "text": "menu"},
            },
        }
    )
    assert len(calls) == 1
    answer = calls[0]
    assert isinstance(answer, AnswerCallbackQuery)
    assert answer.show_alert is True
    assert "private messages" in (answer.text or "")
