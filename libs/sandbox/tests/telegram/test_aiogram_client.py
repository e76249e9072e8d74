"""aiogram 3 against the emulator, exactly as a bot service runs it: same session, same calls."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from sandbox.server import SandboxServer
from sandbox.telegram import SandboxUser, TelegramSandboxControl

from .conftest import BOT

BUY = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="buy:1")]]
)


def aiogram_bot(server: SandboxServer, token: str = BOT.token) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.url)))


@pytest.fixture
async def bot(server: SandboxServer) -> AsyncIterator[Bot]:
    client = aiogram_bot(server)
    try:
        yield client
    finally:
        await client.session.close()


def shop_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.message(CommandStart(deep_link=True))
    async def start(message: Message, command: CommandObject) -> None:
        name = message.from_user.first_name if message.from_user else "?"
        await message.answer(f"Welcome, {name}! Referral: {command.args}", reply_markup=BUY)

    @dispatcher.callback_query(F.data == "buy:1")
    async def buy(query: CallbackQuery) -> None:
        await query.answer("Order placed")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Thanks for your order")

    return dispatcher


async def test_start_button_answer_and_edit_through_polling(
    server: SandboxServer, control: TelegramSandboxControl
) -> None:
    dispatcher = shop_dispatcher()
    polling = asyncio.create_task(
        dispatcher.start_polling(aiogram_bot(server), handle_signals=False, polling_timeout=5)
    )
    try:
        user = await control.create_user("Anna")
        await control.send_text(user.id, "/start ref_42")
        welcome = await control.wait_for_bot_message(user.id, contains="Welcome", timeout=10)
        assert welcome.text == "Welcome, Anna! Referral: ref_42"
        assert welcome.button_texts == ["Buy"]
        query_id = await control.press_button(user.id, welcome.message_id, text="Buy")
        edited = await control.wait_for_bot_message(
            user.id, lambda message: message.kind == "edited", timeout=10
        )
        assert (edited.message_id, edited.text) == (welcome.message_id, "Thanks for your order")
        transcript = await control.transcript(user.id)
        answer = transcript.callback_query(query_id).answer
        assert answer is not None
        assert answer.text == "Order placed"
        assert [message.sender for message in transcript.messages] == ["user", "bot"]
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_refusals_become_aiogram_exceptions(
    bot: Bot, control: TelegramSandboxControl, user: SandboxUser
) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user.id, "x" * 4097)
    stranger = await control.create_user("Stranger")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(stranger.id, "hi")
    sent = await bot.send_message(user.id, "Pick", reply_markup=BUY)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Pick", chat_id=user.id, message_id=sent.message_id, reply_markup=BUY
        )
    query_id = await control.press_button(user.id, sent.message_id, text="Buy")
    assert await bot.answer_callback_query(query_id) is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)


async def test_rate_limits_raise_retry_after(
    bot: Bot, control: TelegramSandboxControl, user: SandboxUser
) -> None:
    await control.set_rate_limits(True)
    for _ in range(3):
        await bot.send_message(user.id, "hi")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(user.id, "hi")
    assert caught.value.retry_after == 1


async def test_photos_commands_and_identity(
    bot: Bot, server: SandboxServer, user: SandboxUser
) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "shop_bot", True)
    header = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    image = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header
    image += struct.pack(">I", zlib.crc32(b"IHDR" + header))
    photo = await bot.send_photo(
        user.id, BufferedInputFile(image, "a.png"), caption="<i>new</i>", parse_mode="HTML"
    )
    assert photo.photo is not None
    assert (photo.photo[-1].width, photo.photo[-1].height) == (64, 48)
    assert photo.caption == "new"
    assert await bot.send_chat_action(user.id, "typing") is True
    assert await bot.set_my_commands([]) is True
    stranger_bot = aiogram_bot(server, "123456:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger_bot.get_me()
    finally:
        await stranger_bot.session.close()
