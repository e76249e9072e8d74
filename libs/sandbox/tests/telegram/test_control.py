"""The control API through its client: simulated users, transcripts and the sent feed."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sandbox.telegram import SandboxControlError, SandboxUser, TelegramSandboxControl

from .conftest import BOT, BotApi

KEYBOARD = {
    "inline_keyboard": [
        [{"text": "Buy", "callback_data": "buy:1"}],
        [{"text": "Site", "url": "https://example.com"}],
    ]
}


async def test_users_get_ids_or_keep_the_given_one(control: TelegramSandboxControl) -> None:
    chosen = await control.create_user("Anna", user_id=777, language_code="ru", is_premium=True)
    assert (chosen.id, chosen.language_code, chosen.is_premium) == (777, "ru", True)
    with pytest.raises(SandboxControlError) as caught:
        await control.create_user("Other", user_id=777)
    assert caught.value.status_code == 409
    generated = await control.create_user("Boris")
    assert generated.id > 0
    assert generated.id != chosen.id


async def test_send_text_returns_the_update(control: TelegramSandboxControl) -> None:
    user = await control.create_user("Fala")
    sent = await control.send_text(user.id, "/start ref_42")
    assert sent.message_id == 1
    assert sent.update is not None
    message = sent.update["message"]
    assert message["text"] == "/start ref_42"
    assert message["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert message["chat"]["type"] == "private"


async def test_press_button_by_text_or_data(
    api: BotApi, control: TelegramSandboxControl, user: SandboxUser
) -> None:
    message = await api.ok("sendMessage", chat_id=user.id, text="Pick", reply_markup=KEYBOARD)
    by_text = await control.press_button(user.id, message["message_id"], text="Buy")
    by_data = await control.press_button(user.id, message["message_id"], callback_data="buy:1")
    assert by_text != by_data
    updates = await api.ok("getUpdates")
    query = updates[-1]["callback_query"]
    assert list(query) == ["id", "from", "message", "chat_instance", "data"]
    assert query["id"] == by_data
    assert query["data"] == "buy:1"
    assert query["message"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "buy:1"
    assert updates[-2]["callback_query"]["chat_instance"] == query["chat_instance"]


@pytest.mark.parametrize(
    ("press", "status"),
    [
        ({"text": "Nope"}, 400),
        ({"callback_data": "sell"}, 400),
        ({"text": "Site"}, 400),
        ({"text": "Buy", "message_id": 999}, 404),
        ({"text": "Buy", "message_id": 1}, 404),
    ],
)
async def test_press_button_refusals(
    api: BotApi,
    control: TelegramSandboxControl,
    user: SandboxUser,
    press: dict[str, object],
    status: int,
) -> None:
    message = await api.ok("sendMessage", chat_id=user.id, text="Pick", reply_markup=KEYBOARD)
    message_id = press.pop("message_id", message["message_id"])
    with pytest.raises(SandboxControlError) as caught:
        await control.press_button(user.id, message_id, **press)  # type: ignore[arg-type]
    assert caught.value.status_code == status


async def test_transcript_has_both_sides_edits_deletions_and_answers(
    api: BotApi, control: TelegramSandboxControl, user: SandboxUser
) -> None:
    message = await api.ok("sendMessage", chat_id=user.id, text="Pick", reply_markup=KEYBOARD)
    query_id = await control.press_button(user.id, message["message_id"], text="Buy")
    await api.ok("answerCallbackQuery", callback_query_id=query_id, text="Done")
    await api.ok("editMessageText", chat_id=user.id, message_id=message["message_id"], text="Paid")
    await api.ok("deleteMessage", chat_id=user.id, message_id=1)
    transcript = await control.transcript(user.id)
    assert [(m.message_id, m.sender, m.text) for m in transcript.messages] == [
        (1, "user", "/start"),
        (2, "bot", "Paid"),
    ]
    start, paid = transcript.messages
    assert start.deleted
    assert not paid.deleted
    assert paid.edit_date is not None
    assert paid.reply_markup is None
    assert start.accepted_at <= paid.accepted_at
    answer = transcript.callback_query(query_id).answer
    assert answer is not None
    assert answer.text == "Done"
    assert transcript.started
    assert not transcript.blocked


async def test_sent_feed_numbers_everything_bots_send(
    api: BotApi, control: TelegramSandboxControl, user: SandboxUser
) -> None:
    other = await control.create_user("Other")
    await control.send_text(other.id, "/start")
    waiting = asyncio.create_task(control.bot_messages_since(0, timeout=5))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    first = await api.ok("sendMessage", chat_id=user.id, text="one")
    woke = await waiting
    assert [event.text for event in woke] == ["one"]
    await api.ok("sendMessage", chat_id=other.id, text="two")
    await api.ok("editMessageText", chat_id=user.id, message_id=first["message_id"], text="uno")
    events = await control.bot_messages_since(woke[0].seq)
    assert [(e.chat_id, e.kind, e.text) for e in events] == [
        (other.id, "sent", "two"),
        (user.id, "edited", "uno"),
    ]
    assert events[0].seq < events[1].seq
    assert all(isinstance(event.accepted_at, float) for event in events)


async def test_wait_for_bot_message_looks_after_the_last_action(
    api: BotApi, control: TelegramSandboxControl, user: SandboxUser
) -> None:
    await api.ok("sendMessage", chat_id=user.id, text="before")
    await control.send_text(user.id, "hello")
    await api.ok("sendMessage", chat_id=user.id, text="Welcome", reply_markup=KEYBOARD)
    welcome = await control.wait_for_bot_message(user.id, contains="Welcome", timeout=2)
    assert welcome.button_texts == ["Buy", "Site"]
    with pytest.raises(TimeoutError, match="Welcome"):
        await control.wait_for_bot_message(user.id, lambda m: m.text == "before", timeout=0.3)


async def test_blocked_users_cannot_act_until_unblocked(
    control: TelegramSandboxControl, user: SandboxUser
) -> None:
    await control.block(user.id)
    assert (await control.transcript(user.id)).blocked
    with pytest.raises(SandboxControlError) as caught:
        await control.send_text(user.id, "hi")
    assert caught.value.status_code == 409
    await control.unblock(user.id)
    await control.send_text(user.id, "hi")


async def test_bots_can_be_added_and_reset_forgets_users(
    api: BotApi, control: TelegramSandboxControl, http: httpx.AsyncClient, user: SandboxUser
) -> None:
    await control.add_bot("424242:second-bot", "second_bot", "Second")
    assert (await BotApi(http, "424242:second-bot").ok("getMe"))["username"] == "second_bot"
    await control.reset()
    with pytest.raises(SandboxControlError) as caught:
        await control.transcript(user.id)
    assert caught.value.status_code == 404
    assert (await api.ok("getMe"))["id"] == 123456


async def test_control_refusals(http: httpx.AsyncClient, control: TelegramSandboxControl) -> None:
    response = await http.get("/sandbox/bot999:nope/sent")
    assert (response.status_code, response.json()) == (404, {"error": "no bot with this token"})
    response = await http.post("/sandbox/nothing-here")
    assert response.status_code == 404
    assert "error" in response.json()
    response = await http.post("/sandbox/rate-limits", json={"enabled": "yes"})
    assert response.status_code == 400
    with pytest.raises(SandboxControlError) as caught:
        await TelegramSandboxControl(str(http.base_url), BOT.token, client=http).send_text(42, "x")
    assert caught.value.status_code == 404


async def test_an_outage_fails_bot_api_calls_until_restored(
    api: BotApi, control: TelegramSandboxControl, user: SandboxUser
) -> None:
    await control.outage("flood", retry_after=7, methods=["sendMessage"])
    flood = await api.call("sendMessage", chat_id=user.id, text="hi")
    assert flood.status_code == 429
    assert flood.headers["retry-after"] == "7"
    assert flood.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert (await api.ok("getMe"))["is_bot"] is True  # other methods still work

    await control.outage("error", status=502)
    down = await api.call("getMe")
    assert down.status_code == 502
    assert down.headers["content-type"].startswith("text/html")
    assert b"502 Bad Gateway" in down.content
    assert (await control.transcript(user.id)).bot_messages() == []  # nothing happened

    await control.restore()
    sent = await api.ok("sendMessage", chat_id=user.id, text="back")
    assert sent["text"] == "back"


async def test_outage_refusals(http: httpx.AsyncClient) -> None:
    for body in ({"mode": "sideways"}, {"mode": "error", "status": 404}, {"methods": "all"}):
        response = await http.put("/sandbox/outage", json=body)
        assert response.status_code == 400
    assert (await http.get("/sandbox/outage")).json() == {"outage": None}
