"""The in-memory emulator with a clock under test control: expiry, time windows, limits."""

from __future__ import annotations

import json

import pytest

from sandbox.telegram import TelegramEmulator
from sandbox.telegram.emulator import BotState, SendOptions
from sandbox.telegram.entities import FormattedText
from sandbox.telegram.errors import BotApiError
from sandbox.telegram.markup import parse_reply_markup
from sandbox.telegram.models import SimulatedUser
from sandbox.telegram.payments import InvoiceRequest, LabeledPrice
from sandbox.telegram.ratelimit import SendRateLimiter
from sandbox.telegram.updates import retry_delay

from .conftest import BOT


class Clock:
    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> TelegramEmulator:
    return TelegramEmulator([BOT], clock=clock)


@pytest.fixture
def bot(emulator: TelegramEmulator) -> BotState:
    return emulator.bot_for_token(BOT.token)


@pytest.fixture
def user(emulator: TelegramEmulator, bot: BotState) -> SimulatedUser:
    created = emulator.create_user("Fala")
    emulator.user_sends_text(bot, created.id, "/start")
    return created


def send(emulator: TelegramEmulator, bot: BotState, user: SimulatedUser, text: str) -> int:
    keyboard = {"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}]]}
    markup = parse_reply_markup(json.dumps(keyboard))
    message = emulator.send_message(bot, str(user.id), FormattedText(text), markup, SendOptions())
    return int(message["message_id"])


async def pending_kinds(emulator: TelegramEmulator, bot: BotState, offset: int) -> list[str]:
    updates = await emulator.get_updates(
        bot, offset=offset, limit=100, timeout=0, allowed_updates=""
    )
    return [update.kind for update in updates]


async def test_callback_queries_expire_after_150_s_and_messages_after_a_day(
    emulator: TelegramEmulator, bot: BotState, user: SimulatedUser, clock: Clock
) -> None:
    message_id = send(emulator, bot, user, "Pick")
    query, _ = emulator.user_presses_button(bot, user.id, message_id, text="Buy")
    assert await pending_kinds(emulator, bot, 0) == ["message", "callback_query"]
    clock.now += 151
    assert await pending_kinds(emulator, bot, 1) == ["message"]
    with pytest.raises(BotApiError, match="query is too old"):
        emulator.answer_callback_query(
            bot, int(query.id), text="", show_alert=False, url="", cache_time=0
        )
    clock.now += 86400
    assert await pending_kinds(emulator, bot, 2) == []


async def test_subscription_periods_run_from_each_charge_and_checkouts_expire_after_150_s(
    emulator: TelegramEmulator, bot: BotState, user: SimulatedUser, clock: Clock
) -> None:
    monthly = InvoiceRequest(
        "VPN",
        "Monthly",
        "sub:1",
        "XTR",
        (LabeledPrice("30 days", 100),),
        subscription_period=2592000,
    )
    link = emulator.create_invoice_link(bot, monthly)
    attempt = emulator.start_checkout(bot, user.id, invoice_link=link)
    assert attempt.pre_checkout_query_id is not None
    emulator.answer_pre_checkout_query(
        bot, int(attempt.pre_checkout_query_id), ok=True, error_message=""
    )
    first = (await emulator.finish_checkout(bot, attempt)).charge
    assert first is not None
    assert first.expires_at == int(clock.now) + 2592000
    clock.now += 2592000
    renewal = emulator.renew_subscription(bot, user.id, first.id).charge
    assert renewal is not None
    assert renewal.expires_at == first.expires_at + 2592000
    assert emulator.star_balance(user.id) == 100_000 - 200
    emulator.start_checkout(bot, user.id, invoice_link=link)
    assert (await pending_kinds(emulator, bot, 0))[-1] == "pre_checkout_query"
    clock.now += 151
    assert "pre_checkout_query" not in await pending_kinds(emulator, bot, 0)


def test_messages_older_than_48_hours_cannot_be_deleted(
    emulator: TelegramEmulator, bot: BotState, user: SimulatedUser, clock: Clock
) -> None:
    message_id = send(emulator, bot, user, "old")
    clock.now += 48 * 3600 + 1
    with pytest.raises(BotApiError) as caught:
        emulator.delete_message(bot, str(user.id), message_id)
    assert caught.value.description == "Bad Request: message can't be deleted for everyone"


def test_update_ids_start_in_the_documented_range_and_count_up(
    emulator: TelegramEmulator, bot: BotState, user: SimulatedUser
) -> None:
    first = emulator.user_sends_text(bot, user.id, "a").update
    second = emulator.user_sends_text(bot, user.id, "b").update
    assert first is not None
    assert second is not None
    assert 2_000_001 <= first.update_id <= 1_000_000_000
    assert second.update_id == first.update_id + 1


def test_rate_limiter_allows_a_burst_per_chat_then_one_a_second() -> None:
    now = [0.0]
    limiter = SendRateLimiter(lambda: now[0])
    assert [limiter.acquire(1, 10, paid_broadcast=False) for _ in range(4)] == [
        None,
        None,
        None,
        1,
    ]
    now[0] += 1.0
    assert limiter.acquire(1, 10, paid_broadcast=False) is None
    assert limiter.acquire(1, 10, paid_broadcast=False) == 1


def test_rate_limiter_caps_a_bot_at_30_a_second_unless_paid() -> None:
    limiter = SendRateLimiter(lambda: 0.0)
    answers = [limiter.acquire(1, chat, paid_broadcast=False) for chat in range(31)]
    assert answers[:30] == [None] * 30
    assert answers[30] == 1
    assert limiter.acquire(1, 99, paid_broadcast=True) is None


def test_webhook_retry_delays() -> None:
    assert [retry_delay(n, None, cap=90.0) for n in range(1, 9)] == [
        0.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        64.0,
        90.0,
    ]
    assert retry_delay(1, 7.0, cap=90.0) == 7.0
    assert retry_delay(3, 99999.0, cap=90.0) == 3600.0
