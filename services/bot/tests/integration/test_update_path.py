"""The bot's update path: each update handled once, late presses still acted on."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sandbox.telegram.updates import QUERY_UPDATE_LIFETIME

from .conftest import BotWorld, tables

pytestmark = pytest.mark.integration


async def bot_texts(world: BotWorld, user_id: int) -> list[str]:
    transcript = await world.telegram.transcript(user_id)
    return [m.text or "" for m in transcript.bot_messages()]


async def test_an_update_delivered_twice_is_answered_once(world: BotWorld) -> None:
    user = await world.telegram.create_user("Twice", language_code="en")
    await world.telegram.send_text(user.id, "/help")
    update = await world.next_update()

    await world.deliver(update)
    await world.deliver(update)  # Telegram redelivers: the webhook answer was slow

    texts = await bot_texts(world, user.id)
    assert len(texts) == 1
    assert "What I can do" in texts[0]
    async with world.sessions() as session:
        claimed = await session.scalar(
            select(func.count())
            .select_from(tables.inbox)
            .where(tables.inbox.c.event_id.endswith(f":{update['update_id']}"))
        )
    assert claimed == 1


async def test_a_press_after_the_answer_window_still_changes_the_screen(
    world: BotWorld,
) -> None:
    user = await world.telegram.create_user("Late", language_code="en")
    await world.telegram.send_text(user.id, "/start")
    await world.deliver(await world.next_update())
    menu = (await world.telegram.transcript(user.id)).bot_messages()[-1]
    query_id = await world.telegram.press_button(
        user.id, menu.message_id, callback_data="m:language"
    )
    press = await world.next_update()

    world.clock.offset_s += QUERY_UPDATE_LIFETIME + 60  # the bot fell that far behind
    try:
        await world.deliver(press)
    finally:
        world.clock.offset_s = 0

    transcript = await world.telegram.transcript(user.id)
    assert "Choose your language" in (transcript.bot_messages()[-1].text or "")
    assert transcript.callback_query(query_id).answer is None  # too late to answer
    assert len(transcript.bot_messages()) == 1  # the same message, edited


async def test_help_and_the_commands_menu(world: BotWorld) -> None:
    from bot.updates import COMMANDS, register_commands

    await register_commands(world.bot)
    bot_state = world.emulator.bot_for_token(world.bot.token)
    for language in ("", "ru", "en"):
        names = [c["command"] for c in bot_state.commands[("default", language)]]
        assert names == list(COMMANDS)
    english = bot_state.commands[("default", "en")]
    assert english[-1]["description"] == "Help"
