"""The settings screen: reminders about the subscription's end off and on again."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from bot.models import Customer
from sandbox.telegram import SandboxUser, TranscriptMessage

from .conftest import BotWorld, tables

pytestmark = pytest.mark.integration


async def press(world: BotWorld, user: SandboxUser, data: str) -> TranscriptMessage:
    transcript = await world.telegram.transcript(user.id)
    target = transcript.bot_messages()[-1].message_id
    query_id = await world.telegram.press_button(user.id, target, callback_data=data)
    await world.deliver(await world.next_update())
    transcript = await world.telegram.transcript(user.id)
    assert transcript.callback_query(query_id).answer is not None
    return next(m for m in transcript.bot_messages() if m.message_id == target)


async def changes(world: BotWorld, customer_id: uuid.UUID) -> list[Any]:
    async with world.sessions() as session:
        payloads = await session.scalars(
            select(tables.outbox.c.payload).where(
                tables.outbox.c.event_type == "bot.customer.reminders_changed.v1"
            )
        )
        events = [json.loads(bytes(payload)) for payload in payloads]
    return [e for e in events if e["customer_id"] == str(customer_id)]


async def test_reminders_are_turned_off_and_on_and_each_change_is_told(
    world: BotWorld,
) -> None:
    user = await world.telegram.create_user("Quiet", language_code="en")
    await world.telegram.send_text(user.id, "/start")
    await world.deliver(await world.next_update())
    async with world.sessions() as session:
        customer_id = await session.scalar(
            select(Customer.customer_id).where(Customer.telegram_user_id == user.id)
        )
    assert customer_id is not None

    screen = await press(world, user, "m:settings")
    assert "Reminders before your subscription ends: ✅ on" in (screen.text or "")
    off = await press(world, user, "rem:0")
    assert "Reminders before your subscription ends: off" in (off.text or "")
    (told,) = await changes(world, customer_id)
    assert told["reminders"] is False

    on = await press(world, user, "rem:1")
    assert "✅ on" in (on.text or "")
    assert [e["reminders"] for e in await changes(world, customer_id)] == [False, True]
