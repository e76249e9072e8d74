"""The Telegram side of the sandbox, in memory: bots, simulated users, private chats, updates.

Bot API methods arrive here already parsed (see ``botapi``); simulated users act through the
control API. Nothing here does I/O; long polling waits on asyncio futures only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.telegram.entities import FormattedText, normalize
from sandbox.telegram.errors import (
    BotApiError,
    ControlError,
    bad_request,
    conflict,
    forbidden,
    not_found,
    too_many_requests,
    unauthorized,
)
from sandbox.telegram.formatting import finish_caption, finish_text
from sandbox.telegram.links import LinkError, parse_http_url
from sandbox.telegram.markup import (
    ReplyMarkup,
    check_callback_data,
    check_inline_keyboard,
    check_pay_buttons,
)
from sandbox.telegram.media import PhotoSize, check_photo, scaled_sizes
from sandbox.telegram.models import (
    DEFAULT_BOT,
    BotProfile,
    CallbackAnswer,
    CallbackQuery,
    ChatMessage,
    PrivateChat,
    SentEvent,
    SentKind,
    SimulatedUser,
    bot_id_from_token,
)
from sandbox.telegram.outage import Outage
from sandbox.telegram.payments import (
    CHARGE_ALREADY_REFUNDED,
    CHARGE_ID_INVALID,
    CHARGE_NOT_FOUND,
    DEFAULT_STAR_BALANCE,
    PRE_CHECKOUT_ANSWER_WINDOW,
    USER_ID_INVALID,
    Invoice,
    InvoiceRequest,
    PaymentAttempt,
    PreCheckoutAnswer,
    PreCheckoutQuery,
    StarCharge,
    StarLedger,
    Subscription,
    check_invoice,
    invoice_link_url,
    invoice_slug,
    star_transaction,
)
from sandbox.telegram.ratelimit import SendRateLimiter
from sandbox.telegram.updates import (
    DEFAULT_ALLOWED_UPDATES,
    MESSAGE_UPDATE_LIFETIME,
    QUERY_UPDATE_LIFETIME,
    QueuedUpdate,
    Signal,
    UpdateQueue,
    allowed_updates_json,
    parse_allowed_updates,
)
from sandbox.telegram.wire import json_text, to_exact_integer

Clock = Callable[[], float]

LONG_POLL_MAX_TIMEOUT = 50
LONG_POLL_BATCH_DELAY = 0.001
CONFLICT_SPACING = 3.0
# The answer window is not documented; the callback_query update itself lives 150 s.
CALLBACK_ANSWER_WINDOW = QUERY_UPDATE_LIFETIME
MAX_CALLBACK_ANSWER_LENGTH = 200
DELETE_FOR_EVERYONE_WINDOW = 48 * 3600
MAX_COMMANDS = 100
WEBHOOK_PORTS = (80, 88, 443, 8443)
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note", "cancel", "record_audio", "upload_audio", "pick_up_location",
    }
)  # fmt: skip

WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
TERMINATED_BY_GET_UPDATES = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)
TERMINATED_BY_SET_WEBHOOK = "terminated by setWebhook request"
QUERY_ID_INVALID = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_token: str
    max_connections: int
    ip_address: str
    allowed_updates: frozenset[str]


@dataclass
class _Poll:
    future: asyncio.Future[None]
    aborted_by: str | None = None


@dataclass
class BotState:
    profile: BotProfile
    updates: UpdateQueue
    webhook: Webhook | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    photos: dict[str, tuple[PhotoSize, ...]] = field(default_factory=dict)
    stars: StarLedger = field(default_factory=StarLedger)
    poll: _Poll | None = None
    previous_offset: int | None = None
    previous_poll_at: float = -math.inf
    next_conflict_at: float = -math.inf
    next_set_webhook_at: float = -math.inf

    @property
    def id(self) -> int:
        return self.profile.id

    def forget(self, queue: UpdateQueue) -> None:
        """Back to a bot nobody talked to. A waiting long poll wakes and reads the new queue."""
        fresh = BotState(self.profile, queue)
        poll = self.poll
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
        if poll is not None and not poll.future.done():
            poll.future.set_result(None)


@dataclass(frozen=True)
class SendOptions:
    reply_to_message_id: int = 0
    allow_sending_without_reply: bool = False
    protect_content: bool = False
    paid_broadcast: bool = False
    link_preview_options: str | None = None


@dataclass(frozen=True)
class PhotoUpload:
    data: bytes


@dataclass(frozen=True)
class PhotoReference:
    file_id: str


@dataclass(frozen=True)
class UserAction:
    """What a simulated user's action produced: the update (None if the bot filters the
    type out) and the feed position at that moment, to wait for answers after it."""

    update: QueuedUpdate | None
    seq: int
    message_id: int | None = None


class TelegramEmulator:
    def __init__(
        self,
        bots: Iterable[BotProfile] | None = None,
        *,
        local_mode: bool = True,
        rate_limits: bool = False,
        pre_checkout_timeout: float = PRE_CHECKOUT_ANSWER_WINDOW,
        star_balance: int = DEFAULT_STAR_BALANCE,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.local_mode = local_mode
        self.rate_limits = rate_limits
        self._default_rate_limits = rate_limits
        self.outage: Outage | None = None
        # How long a checkout waits for answerPreCheckoutQuery; tests shorten it.
        self.pre_checkout_timeout = pre_checkout_timeout
        self._default_pre_checkout_timeout = pre_checkout_timeout
        self._default_star_balance = star_balance
        self._clock = clock
        self._monotonic = monotonic
        self._rng = rng or random.Random()  # noqa: S311 - identifiers, not secrets
        self._limiter = SendRateLimiter(monotonic)
        self._bots: dict[int, BotState] = {}
        self._users: dict[int, SimulatedUser] = {}
        self._chats: dict[tuple[int, int], PrivateChat] = {}
        self._callbacks: dict[str, CallbackQuery] = {}
        self._pre_checkouts: dict[str, PreCheckoutQuery] = {}
        self._star_balances: dict[int, int] = {}
        self._feed: list[SentEvent] = []
        self._feed_start = 0
        self._seq = 0
        self._feed_signal = Signal()
        self.webhooks_changed = Signal()
        for profile in [DEFAULT_BOT] if bots is None else bots:
            self.add_bot(profile)

    # Bots

    def add_bot(self, profile: BotProfile) -> BotProfile:
        existing = self._bots.get(profile.id)
        if existing is not None:
            if existing.profile != profile:
                raise ControlError(409, f"bot {profile.id} is already registered")
            return existing.profile
        self._bots[profile.id] = BotState(profile, self._new_queue())
        self.webhooks_changed.notify()
        return profile

    def bots(self) -> list[BotState]:
        return list(self._bots.values())

    def bot_for_token(self, token: str) -> BotState:
        """The bot a Bot API path names: 404 for a malformed token, 401 for an unknown one."""
        bot_id = bot_id_from_token(token)
        if bot_id is None:
            raise not_found()
        state = self._bots.get(bot_id)
        if state is None or state.profile.token != token:
            raise unauthorized()
        return state

    def _new_queue(self) -> UpdateQueue:
        return UpdateQueue(self._rng.randint(2_000_001, 1_000_000_000))

    # Updates: getUpdates

    async def get_updates(
        self,
        bot: BotState,
        *,
        offset: int,
        limit: int,
        timeout: int,  # noqa: ASYNC109 - the Bot API's long-poll parameter
        allowed_updates: str,
    ) -> list[QueuedUpdate]:
        if bot.webhook is not None:
            raise await self._conflict(bot, WEBHOOK_ACTIVE)
        limit, timeout = self._busy_loop_guards(bot, offset, limit, timeout)
        bot.updates.allowed = parse_allowed_updates(allowed_updates, bot.updates.allowed)
        bot.updates.apply_offset(offset)
        self._abort_poll(bot, TERMINATED_BY_GET_UPDATES)
        deadline = self._monotonic() + timeout
        while True:
            bot.updates.drop_expired(self._clock())
            found = bot.updates.head(limit)
            remaining = deadline - self._monotonic()
            if found or remaining <= 0:
                return found
            poll = _Poll(asyncio.get_running_loop().create_future())
            bot.poll = poll
            try:
                await asyncio.wait_for(poll.future, remaining)
            except TimeoutError:
                return []
            finally:
                if bot.poll is poll:
                    bot.poll = None
            if poll.aborted_by is not None:
                raise await self._conflict(bot, poll.aborted_by)
            await asyncio.sleep(LONG_POLL_BATCH_DELAY)

    def _busy_loop_guards(
        self, bot: BotState, offset: int, limit: int, timeout: int
    ) -> tuple[int, int]:
        now = self._monotonic()
        if offset == bot.previous_offset:
            if timeout < 3 and now < bot.previous_poll_at + 3:
                timeout = 3
            if now < bot.previous_poll_at + 0.5:
                limit = 1
        bot.previous_offset = offset
        bot.previous_poll_at = now
        return limit, timeout

    def _abort_poll(self, bot: BotState, reason: str) -> None:
        if bot.poll is not None and not bot.poll.future.done():
            bot.poll.aborted_by = reason
            bot.poll.future.set_result(None)
        bot.poll = None

    async def _conflict(self, bot: BotState, reason: str) -> BotApiError:
        """409s are spaced 3 s apart so that a conflicting client cannot spin."""
        now = self._monotonic()
        answer_at = max(now, bot.next_conflict_at)
        bot.next_conflict_at = answer_at + CONFLICT_SPACING
        if answer_at > now:
            await asyncio.sleep(answer_at - now)
        return conflict(reason)

    def _enqueue(
        self,
        bot: BotState,
        kind: str,
        body: dict[str, Any],
        group: tuple[str, int],
        lifetime: float,
    ) -> QueuedUpdate | None:
        update = bot.updates.push(kind, json_text(body), group, self._clock() + lifetime)
        if update is not None and bot.poll is not None and not bot.poll.future.done():
            bot.poll.future.set_result(None)
        return update

    # Updates: webhooks

    def set_webhook(
        self,
        bot: BotState,
        *,
        url: str,
        secret_token: str,
        max_connections: int,
        allowed_updates: str,
        ip_address: str,
        drop_pending_updates: bool,
    ) -> str:
        if url == "":
            return self.delete_webhook(bot, drop_pending_updates=drop_pending_updates)
        now = self._monotonic()
        if self.rate_limits and now < bot.next_set_webhook_at:
            raise too_many_requests(1)
        bot.next_set_webhook_at = now + 1
        _check_secret_token(secret_token)
        target_ip = self._check_webhook_url(url, ip_address)
        allowed = parse_allowed_updates(allowed_updates, bot.updates.allowed)
        webhook = Webhook(url, secret_token, max_connections, target_ip, allowed)
        if webhook == bot.webhook and not drop_pending_updates:
            return "Webhook is already set"
        self._abort_poll(bot, TERMINATED_BY_SET_WEBHOOK)
        if drop_pending_updates:
            bot.updates.clear()
        if bot.webhook is None or bot.webhook.url != url:
            bot.last_error_date = bot.last_error_message = None
        bot.updates.allowed = allowed
        bot.webhook = webhook
        self.webhooks_changed.notify()
        return "Webhook was set"

    def _check_webhook_url(self, url: str, ip_address: str) -> str:
        """Returns the IP address getWebhookInfo shows; local mode allows any http(s) URL."""
        try:
            parsed = parse_http_url(url)
        except LinkError as error:
            raise bad_request("invalid webhook URL specified") from error
        host_ip = "127.0.0.1" if parsed.host == "localhost" else parsed.host
        shown_ip = ip_address or (host_ip if _is_ip(host_ip) else "<unknown>")
        if self.local_mode:
            return shown_ip
        if parsed.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if parsed.effective_port not in WEBHOOK_PORTS:
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        if _is_ip(host_ip) and _is_reserved_ip(host_ip):
            raise bad_request(f"bad webhook: IP address {host_ip} is reserved")
        return shown_ip

    def delete_webhook(self, bot: BotState, *, drop_pending_updates: bool) -> str:
        if bot.webhook is None and not drop_pending_updates:
            return "Webhook is already deleted"
        if drop_pending_updates:
            bot.updates.clear()
        bot.webhook = None
        self.webhooks_changed.notify()
        return "Webhook was deleted"

    def webhook_info(self, bot: BotState) -> dict[str, Any]:
        bot.updates.drop_expired(self._clock())
        webhook = bot.webhook
        info: dict[str, Any] = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if bot.last_error_date is not None:
            info["last_error_date"] = bot.last_error_date
            info["last_error_message"] = bot.last_error_message
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            info["ip_address"] = webhook.ip_address
        if bot.updates.allowed != DEFAULT_ALLOWED_UPDATES:
            info["allowed_updates"] = allowed_updates_json(bot.updates.allowed)
        return info

    def record_webhook_error(self, bot: BotState, message: str) -> None:
        bot.last_error_date = int(self._clock())
        bot.last_error_message = message

    def now(self) -> float:
        return self._clock()

    def monotonic(self) -> float:
        return self._monotonic()

    # Bot API: messages

    def send_message(
        self,
        bot: BotState,
        chat_id: str,
        text: FormattedText,
        markup: ReplyMarkup | None,
        options: SendOptions,
    ) -> dict[str, Any]:
        user = self._user_for_chat_id(chat_id)
        finished = finish_text(text)
        markup = _checked_markup(markup)
        chat = self._writable_chat(bot, user)
        _check_server_side(markup)
        reply_to = self._reply_target(chat, options)
        self._take_send_slot(bot, chat, options)
        return self._post(
            bot,
            chat,
            options,
            text=finished,
            markup=markup,
            link_preview_options=options.link_preview_options,
            reply_to_message_id=reply_to,
        )

    def send_photo(
        self,
        bot: BotState,
        chat_id: str,
        photo: PhotoUpload | PhotoReference,
        caption: FormattedText,
        markup: ReplyMarkup | None,
        options: SendOptions,
    ) -> dict[str, Any]:
        user = self._user_for_chat_id(chat_id)
        finished = finish_caption(caption)
        markup = _checked_markup(markup)
        chat = self._writable_chat(bot, user)
        _check_server_side(markup)
        reply_to = self._reply_target(chat, options)
        sizes = self._photo_sizes(bot, photo)
        self._take_send_slot(bot, chat, options)
        return self._post(
            bot,
            chat,
            options,
            photo=sizes,
            caption=finished,
            markup=markup,
            reply_to_message_id=reply_to,
        )

    def _post(
        self, bot: BotState, chat: PrivateChat, options: SendOptions, **content: Any
    ) -> dict[str, Any]:
        """Add a message from the bot to the chat and the sent feed; its JSON as sent."""
        now = self._clock()
        message = ChatMessage(
            message_id=chat.next_message_id(),
            sender="bot",
            date=int(now),
            accepted_at=now,
            protected=options.protect_content,
            **content,
        )
        chat.add_message(message)
        self._record_sent(bot, chat, message, "sent")
        return chat.message_json(message)

    def _photo_sizes(
        self, bot: BotState, photo: PhotoUpload | PhotoReference
    ) -> tuple[PhotoSize, ...]:
        if isinstance(photo, PhotoReference):
            known = bot.photos.get(photo.file_id)
            if known is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return known
        width, height = check_photo(photo.data)
        dimensions = scaled_sizes(width, height)
        sizes = tuple(
            PhotoSize(
                file_id=self._new_file_id(),
                file_unique_id=self._new_file_unique_id(),
                width=w,
                height=h,
                file_size=len(photo.data) if (w, h) == (width, height) else None,
            )
            for w, h in dimensions
        )
        for size in sizes:
            bot.photos[size.file_id] = sizes
        return sizes

    def _new_file_id(self) -> str:
        return "AgACAgIAAxkBAA" + _random_base64(self._rng, 48)

    def _new_file_unique_id(self) -> str:
        return "AQAD" + _random_base64(self._rng, 12)

    def _user_for_chat_id(self, chat_id: str, *, empty: str = "chat_id is empty") -> SimulatedUser:
        if chat_id == "":
            raise bad_request(empty)
        number = to_exact_integer(chat_id)
        user = self._users.get(number) if number is not None else None
        if user is None:
            raise bad_request("chat not found")
        return user

    def _writable_chat(self, bot: BotState, user: SimulatedUser) -> PrivateChat:
        chat = self._chats.get((bot.id, user.id))
        if chat is None or not chat.started:
            raise forbidden("bot can't initiate conversation with a user")
        if chat.blocked:
            raise forbidden("bot was blocked by the user")
        return chat

    def _reply_target(self, chat: PrivateChat, options: SendOptions) -> int | None:
        if options.reply_to_message_id <= 0:
            return None
        if chat.live_message(options.reply_to_message_id) is not None:
            return options.reply_to_message_id
        if options.allow_sending_without_reply:
            return None
        raise bad_request("message to be replied not found")

    def _take_send_slot(self, bot: BotState, chat: PrivateChat, options: SendOptions) -> None:
        if not self.rate_limits:
            return
        wait = self._limiter.acquire(bot.id, chat.id, paid_broadcast=options.paid_broadcast)
        if wait is not None:
            raise too_many_requests(wait)

    def edit_message_text(
        self,
        bot: BotState,
        target: MessageTarget,
        text: FormattedText,
        markup: ReplyMarkup | None,
        link_preview_options: str | None,
    ) -> dict[str, Any]:
        chat, message = self._message_to_edit(bot, target)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        finished = finish_text(text)
        markup = _checked_markup(markup)
        _check_server_side(markup)
        unchanged = (
            finished == message.text
            and link_preview_options == message.link_preview_options
            and _inline_of(markup) == message.inline_keyboard
        )
        if unchanged:
            raise bad_request(NOT_MODIFIED)
        message.text = finished
        message.link_preview_options = link_preview_options
        message.markup = markup if markup is not None and markup.inline is not None else None
        return self._finish_edit(bot, chat, message)

    def edit_message_reply_markup(
        self, bot: BotState, target: MessageTarget, markup: ReplyMarkup | None
    ) -> dict[str, Any]:
        chat, message = self._message_to_edit(bot, target)
        markup = _checked_markup(markup)
        _check_server_side(markup, invoice=message.invoice is not None)
        if _inline_of(markup) == message.inline_keyboard:
            raise bad_request(NOT_MODIFIED)
        message.markup = markup if markup is not None and markup.inline is not None else None
        return self._finish_edit(bot, chat, message)

    def _message_to_edit(
        self, bot: BotState, target: MessageTarget
    ) -> tuple[PrivateChat, ChatMessage]:
        if target.chat_id == "" and target.message_id == 0:
            if target.inline_message_id == "":
                raise bad_request("message identifier is not specified")
            raise bad_request("MESSAGE_ID_INVALID")
        user = self._user_for_chat_id(target.chat_id)
        chat = self._chats.get((bot.id, user.id))
        message = chat.live_message(target.message_id) if chat is not None else None
        if chat is None or message is None:
            raise bad_request("message to edit not found")
        if message.sender != "bot":
            raise bad_request("message can't be edited")
        return chat, message

    def _finish_edit(
        self, bot: BotState, chat: PrivateChat, message: ChatMessage
    ) -> dict[str, Any]:
        now = self._clock()
        message.edit_date = int(now)
        message.accepted_at = now
        self._record_sent(bot, chat, message, "edited")
        return chat.message_json(message)

    def delete_message(self, bot: BotState, chat_id: str, message_id: int) -> None:
        if chat_id == "":
            raise bad_request("chat identifier is not specified")
        if message_id == 0:
            raise bad_request("message identifier is not specified")
        user = self._user_for_chat_id(chat_id)
        chat = self._chats.get((bot.id, user.id))
        message = chat.live_message(message_id) if chat is not None else None
        if message is None:
            raise bad_request("message to delete not found")
        if self._clock() - message.date > DELETE_FOR_EVERYONE_WINDOW:
            raise bad_request("message can't be deleted for everyone")
        message.deleted = True

    def answer_callback_query(
        self,
        bot: BotState,
        query_id: int,
        *,
        text: str,
        show_alert: bool,
        url: str,
        cache_time: int,
    ) -> None:
        query = self._callbacks.get(str(query_id))
        expired = query is not None and self._clock() > query.created_at + CALLBACK_ANSWER_WINDOW
        if query is None or query.bot_id != bot.id or query.answer is not None or expired:
            raise bad_request(QUERY_ID_INVALID)
        if len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answer = CallbackAnswer(text, show_alert, url, cache_time, self._clock())

    def send_chat_action(self, bot: BotState, chat_id: str, action: str) -> None:
        if action.lower() not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        user = self._user_for_chat_id(chat_id)
        self._writable_chat(bot, user)

    def set_my_commands(
        self, bot: BotState, commands: list[dict[str, str]], scope: str, language_code: str
    ) -> None:
        if len(commands) > MAX_COMMANDS:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            name = command["command"]
            if not 1 <= len(name) <= 32 or not all(c in _COMMAND_CHARS for c in name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        bot.commands[(scope, language_code)] = commands

    def get_my_commands(
        self, bot: BotState, scope: str, language_code: str
    ) -> list[dict[str, str]]:
        return bot.commands.get((scope, language_code), [])

    def delete_my_commands(self, bot: BotState, scope: str, language_code: str) -> None:
        bot.commands.pop((scope, language_code), None)

    # Bot API: Telegram Stars

    def send_invoice(
        self,
        bot: BotState,
        chat_id: str,
        request: InvoiceRequest,
        markup: ReplyMarkup | None,
        options: SendOptions,
    ) -> dict[str, Any]:
        user = self._user_for_chat_id(chat_id)
        markup = _checked_markup(markup)
        chat = self._writable_chat(bot, user)
        reply_to = self._reply_target(chat, options)
        invoice = check_invoice(request)
        _check_server_side(markup, invoice=True)
        self._take_send_slot(bot, chat, options)
        return self._post(
            bot, chat, options, invoice=invoice, markup=markup, reply_to_message_id=reply_to
        )

    def create_invoice_link(self, bot: BotState, request: InvoiceRequest) -> str:
        invoice = check_invoice(request)
        slug = _random_base64(self._rng, 27)
        while slug in bot.stars.links:
            slug = _random_base64(self._rng, 27)
        bot.stars.links[slug] = invoice
        return invoice_link_url(slug)

    def answer_pre_checkout_query(
        self, bot: BotState, query_id: int, *, ok: bool, error_message: str
    ) -> None:
        query = self._pre_checkouts.get(str(query_id))
        if query is None or query.bot_id != bot.id or not query.open:
            raise bad_request(QUERY_ID_INVALID)
        query.answer(ok, error_message)

    def refund_star_payment(self, bot: BotState, user_id: int, charge_id: str) -> None:
        if user_id not in self._users:
            raise bad_request(USER_ID_INVALID)
        charge = bot.stars.charges.get(charge_id)
        if charge is None or charge.user_id != user_id:
            raise bad_request(CHARGE_NOT_FOUND)
        if charge.refunded:
            raise bad_request(CHARGE_ALREADY_REFUNDED)
        charge.refunded = True
        amount = charge.invoice.total_amount
        bot.stars.balance -= amount
        self._star_balances[user_id] = self.star_balance(user_id) + amount
        now = self._clock()
        user = self.user(user_id)
        bot.stars.transactions.append(
            star_transaction(charge, user.user_json(), date=int(now), incoming=False)
        )
        chat = self._open_chat(bot, user_id)
        self._user_service_message(bot, chat, now, refunded_payment=charge.refunded_payment_json())

    def edit_user_star_subscription(
        self, bot: BotState, user_id: int, charge_id: str, *, is_canceled: bool
    ) -> None:
        if user_id not in self._users:
            raise bad_request(USER_ID_INVALID)
        subscription = self._subscription_of(bot, user_id, charge_id)
        if subscription is None:
            raise bad_request(CHARGE_ID_INVALID)
        subscription.canceled_by_bot = is_canceled

    def star_transactions(self, bot: BotState, *, offset: int, limit: int) -> dict[str, Any]:
        return {"transactions": bot.stars.page(offset, limit)}

    def my_star_balance(self, bot: BotState) -> dict[str, Any]:
        return {"amount": bot.stars.balance}

    def _subscription_of(self, bot: BotState, user_id: int, charge_id: str) -> Subscription | None:
        """Any charge of a subscription names it: the first one or a renewal."""
        charge = bot.stars.charges.get(charge_id)
        if charge is None or charge.user_id != user_id or charge.subscription_id is None:
            return None
        return bot.stars.subscriptions[charge.subscription_id]

    # Simulated users (control API)

    def create_user(
        self,
        first_name: str,
        *,
        user_id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> SimulatedUser:
        if not first_name:
            raise ControlError(400, "first_name must be non-empty")
        if user_id is None:
            user_id = self._free_user_id()
        elif user_id <= 0 or user_id in self._users or user_id in self._bots:
            raise ControlError(409, f"user id {user_id} is taken or invalid")
        user = SimulatedUser(user_id, first_name, last_name, username, language_code, is_premium)
        self._users[user_id] = user
        return user

    def _free_user_id(self) -> int:
        while True:
            candidate = self._rng.randint(1_000_000_000, 7_999_999_999)
            if candidate not in self._users and candidate not in self._bots:
                return candidate

    def started_chat(self, bot: BotState, user_id: int) -> PrivateChat:
        """A chat the user started before now, as if its ``/start`` was handled long ago: no
        update is queued (a benchmark's customers of old)."""
        chat = self._open_chat(bot, user_id)
        chat.started = True
        return chat

    def user(self, user_id: int) -> SimulatedUser:
        user = self._users.get(user_id)
        if user is None:
            raise ControlError(404, f"no user {user_id}")
        return user

    def _open_chat(self, bot: BotState, user_id: int) -> PrivateChat:
        key = (bot.id, user_id)
        chat = self._chats.get(key)
        if chat is None:
            chat = PrivateChat(
                bot.profile, self.user(user_id), str(self._rng.randint(-(2**63), 2**63 - 1))
            )
            self._chats[key] = chat
        return chat

    def user_sends_text(self, bot: BotState, user_id: int, text: str) -> UserAction:
        chat = self._open_chat(bot, user_id)
        if chat.blocked:
            raise ControlError(409, "the user has blocked the bot; unblock it first")
        formatted = normalize(FormattedText(text))
        if not formatted.text or len(formatted.text) > 4096:
            raise ControlError(400, "a user's message is 1-4096 characters after trimming")
        chat.started = True
        now = self._clock()
        message = ChatMessage(
            message_id=chat.next_message_id(),
            sender="user",
            date=int(now),
            accepted_at=now,
            text=formatted,
        )
        chat.add_message(message)
        update = self._enqueue(
            bot,
            "message",
            chat.message_json(message),
            ("chat", chat.id),
            MESSAGE_UPDATE_LIFETIME,
        )
        return UserAction(update, self._seq, message.message_id)

    def user_presses_button(
        self,
        bot: BotState,
        user_id: int,
        message_id: int,
        *,
        text: str | None = None,
        callback_data: str | None = None,
    ) -> tuple[CallbackQuery, UserAction]:
        chat = self._open_chat(bot, user_id)
        if chat.blocked:
            raise ControlError(409, "the user has blocked the bot; unblock it first")
        message = chat.live_message(message_id)
        if message is None or message.sender != "bot":
            raise ControlError(404, f"no bot message {message_id} in this chat")
        button = _find_button(message, text=text, callback_data=callback_data)
        query = CallbackQuery(
            id=str(self._rng.randint(10**18, 2**63 - 1)),
            bot_id=bot.id,
            user_id=user_id,
            message_id=message_id,
            data=button,
            created_at=self._clock(),
        )
        self._callbacks[query.id] = query
        chat.callback_queries.append(query)
        update = self._enqueue(
            bot,
            "callback_query",
            chat.callback_query_json(query, message),
            ("callback", user_id),
            QUERY_UPDATE_LIFETIME,
        )
        return query, UserAction(update, self._seq, message_id)

    def set_blocked(self, bot: BotState, user_id: int, *, blocked: bool) -> UserAction:
        chat = self._open_chat(bot, user_id)
        if chat.blocked == blocked:
            return UserAction(None, self._seq)
        chat.blocked = blocked
        update = self._enqueue(
            bot,
            "my_chat_member",
            chat.member_update_json(int(self._clock()), blocked=blocked),
            ("member", chat.id),
            MESSAGE_UPDATE_LIFETIME,
        )
        return UserAction(update, self._seq)

    def existing_chat(self, bot: BotState, user_id: int) -> PrivateChat | None:
        self.user(user_id)
        return self._chats.get((bot.id, user_id))

    # Simulated users: paying in Telegram Stars

    def star_balance(self, user_id: int) -> int:
        self.user(user_id)
        return self._star_balances.get(user_id, self._default_star_balance)

    def set_star_balance(self, user_id: int, balance: int) -> int:
        self.user(user_id)
        if balance < 0:
            raise ControlError(400, "a Stars balance is a whole number of Stars, 0 or more")
        self._star_balances[user_id] = balance
        return balance

    async def pay_invoice(
        self,
        bot: BotState,
        user_id: int,
        *,
        message_id: int | None = None,
        invoice_link: str | None = None,
    ) -> PaymentAttempt:
        attempt = self.start_checkout(
            bot, user_id, message_id=message_id, invoice_link=invoice_link
        )
        return await self.finish_checkout(bot, attempt)

    def start_checkout(
        self,
        bot: BotState,
        user_id: int,
        *,
        message_id: int | None = None,
        invoice_link: str | None = None,
    ) -> PaymentAttempt:
        """The user taps Pay: the bot gets a pre_checkout_query, unless the Stars fall short
        (the client asks the user to buy more before it asks the bot)."""
        chat = self._open_chat(bot, user_id)
        if chat.blocked:
            raise ControlError(409, "the user has blocked the bot; unblock it first")
        invoice = self._invoice_to_pay(bot, chat, message_id, invoice_link)
        now = self._clock()
        attempt = PaymentAttempt(
            "checkout", invoice, now, invoice_message_id=message_id, invoice_link=invoice_link
        )
        chat.payments.append(attempt)
        if self.star_balance(user_id) < invoice.total_amount:
            return attempt.finish("insufficient_balance", now)
        query = PreCheckoutQuery(
            id=str(self._rng.randint(10**18, 2**63 - 1)),
            bot_id=bot.id,
            user_id=user_id,
            invoice=invoice,
            decision=asyncio.get_running_loop().create_future(),
        )
        self._pre_checkouts[query.id] = query
        attempt.pre_checkout_query_id = query.id
        self._enqueue(
            bot,
            "pre_checkout_query",
            query.to_json(chat.user.user_json()),
            ("pre_checkout", user_id),
            QUERY_UPDATE_LIFETIME,
        )
        return attempt

    async def finish_checkout(self, bot: BotState, attempt: PaymentAttempt) -> PaymentAttempt:
        """Waits for answerPreCheckoutQuery, then pays; unanswered in time, the checkout fails."""
        query = self._pre_checkouts.get(attempt.pre_checkout_query_id or "")
        if query is None or attempt.status != "pending":
            return attempt
        answer: PreCheckoutAnswer | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.pre_checkout_timeout):
                answer = await asyncio.shield(query.decision)
        query.expire()
        now = self._clock()
        chat = self._chats.get((bot.id, query.user_id))
        if answer is None or chat is None:
            return attempt.finish("timed_out", now)
        if not answer.ok:
            attempt.error_message = answer.error_message
            return attempt.finish("declined", now)
        return self._pay(bot, chat, attempt, None)

    def renew_subscription(self, bot: BotState, user_id: int, charge_id: str) -> PaymentAttempt:
        """The next period of a subscription is charged, as Telegram does at its expiry."""
        chat = self._open_chat(bot, user_id)
        subscription = self._subscription_of(bot, user_id, charge_id)
        if subscription is None:
            raise ControlError(404, f"user {user_id} has no subscription with charge {charge_id!r}")
        attempt = PaymentAttempt("renewal", subscription.invoice, self._clock())
        chat.payments.append(attempt)
        if subscription.canceled_by_bot:
            return attempt.finish("canceled", attempt.started_at)
        return self._pay(bot, chat, attempt, subscription)

    def _invoice_to_pay(
        self,
        bot: BotState,
        chat: PrivateChat,
        message_id: int | None,
        invoice_link: str | None,
    ) -> Invoice:
        if (message_id is None) == (invoice_link is None):
            raise ControlError(400, 'give exactly one of "message_id" and "invoice_link"')
        if invoice_link is not None:
            linked = bot.stars.links.get(invoice_slug(invoice_link))
            if linked is None:
                raise ControlError(404, f"this bot created no invoice link {invoice_link!r}")
            return linked
        message = chat.live_message(message_id or 0)
        if message is None or message.invoice is None:
            raise ControlError(404, f"no invoice message {message_id} in this chat")
        return message.invoice

    def _pay(
        self,
        bot: BotState,
        chat: PrivateChat,
        attempt: PaymentAttempt,
        subscription: Subscription | None,
    ) -> PaymentAttempt:
        """Moves the Stars and tells the bot with a successful_payment message."""
        invoice = attempt.invoice
        now = self._clock()
        balance = self.star_balance(chat.id)
        if balance < invoice.total_amount:
            return attempt.finish("insufficient_balance", now)
        self._star_balances[chat.id] = balance - invoice.total_amount
        bot.stars.balance += invoice.total_amount
        date = int(now)
        charge = StarCharge(self._new_charge_id(bot), chat.id, invoice, date)
        if invoice.subscription_period:
            if subscription is None:
                expires_at = date + invoice.subscription_period
                subscription = Subscription(charge.id, chat.id, invoice, expires_at)
                bot.stars.subscriptions[subscription.id] = subscription
                charge.is_first_recurring = True
            else:
                subscription.expires_at += invoice.subscription_period
            charge.subscription_id = subscription.id
            charge.expires_at = subscription.expires_at
        bot.stars.charges[charge.id] = charge
        bot.stars.transactions.append(
            star_transaction(charge, chat.user.user_json(), date=date, incoming=True)
        )
        attempt.charge = charge
        attempt.update = self._user_service_message(
            bot, chat, now, successful_payment=charge.successful_payment_json()
        )
        return attempt.finish("paid", now)

    def _user_service_message(
        self, bot: BotState, chat: PrivateChat, now: float, **content: Any
    ) -> QueuedUpdate | None:
        message = ChatMessage(
            message_id=chat.next_message_id(),
            sender="user",
            date=int(now),
            accepted_at=now,
            **content,
        )
        chat.add_message(message)
        chat.started = True
        return self._enqueue(
            bot, "message", chat.message_json(message), ("chat", chat.id), MESSAGE_UPDATE_LIFETIME
        )

    def _new_charge_id(self, bot: BotState) -> str:
        # Real Stars charge ids are far longer than 128 characters.
        while True:
            charge_id = "stx" + _random_base64(self._rng, 140)
            if charge_id not in bot.stars.charges:
                return charge_id

    # What bots sent

    def _record_sent(
        self, bot: BotState, chat: PrivateChat, message: ChatMessage, kind: SentKind
    ) -> None:
        self._seq += 1
        inline = message.inline_keyboard
        self._feed.append(
            SentEvent(
                seq=self._seq,
                bot_id=bot.id,
                chat_id=chat.id,
                message_id=message.message_id,
                kind=kind,
                text=message.text.text if message.text is not None else None,
                caption=message.caption.text if message.caption is not None else None,
                reply_markup=inline.to_json() if inline is not None else None,
                accepted_at=message.accepted_at,
                invoice=message.invoice.to_json() if message.invoice is not None else None,
            )
        )
        self._feed_signal.notify()

    @property
    def last_seq(self) -> int:
        return self._seq

    def sent_after(self, bot: BotState, seq: int) -> list[SentEvent]:
        start = max(0, seq - self._feed_start)
        return [event for event in self._feed[start:] if event.bot_id == bot.id]

    async def wait_sent_after(
        self,
        bot: BotState,
        seq: int,
        timeout: float,  # noqa: ASYNC109 - how long the control API's long poll may wait
    ) -> list[SentEvent]:
        deadline = self._monotonic() + timeout
        while True:
            events = self.sent_after(bot, seq)
            remaining = deadline - self._monotonic()
            if events or remaining <= 0:
                return events
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._feed_signal.wait()

    # Switches

    def set_rate_limits(self, enabled: bool) -> None:
        self.rate_limits = enabled
        self._limiter.clear()

    def reset(self) -> None:
        """Forget users, chats, updates and webhooks; keep the bots and the feed's numbering."""
        for bot in self._bots.values():
            bot.forget(self._new_queue())
        self._users.clear()
        self._chats.clear()
        self._callbacks.clear()
        for query in self._pre_checkouts.values():
            query.expire()
        self._pre_checkouts.clear()
        self._star_balances.clear()
        self.pre_checkout_timeout = self._default_pre_checkout_timeout
        self._feed.clear()
        self._feed_start = self._seq
        self.set_rate_limits(self._default_rate_limits)
        self.outage = None
        self.webhooks_changed.notify()


@dataclass(frozen=True)
class MessageTarget:
    chat_id: str
    message_id: int
    inline_message_id: str = ""


_COMMAND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _checked_markup(markup: ReplyMarkup | None) -> ReplyMarkup | None:
    if markup is None or markup.inline is None:
        return markup
    return ReplyMarkup(inline=check_inline_keyboard(markup.inline), shown=None)


def _check_server_side(markup: ReplyMarkup | None, *, invoice: bool = False) -> None:
    """Telegram's servers, after TDLib: callback data size and where a Pay button may go."""
    if markup is not None and markup.inline is not None:
        check_callback_data(markup.inline)
    check_pay_buttons(markup, invoice=invoice)


def _inline_of(markup: ReplyMarkup | None) -> Any:
    return markup.inline if markup is not None else None


def _find_button(message: ChatMessage, *, text: str | None, callback_data: str | None) -> str:
    keyboard = message.inline_keyboard
    if keyboard is None:
        raise ControlError(400, f"message {message.message_id} has no inline keyboard")
    for button in keyboard.buttons():
        if (
            callback_data is not None
            and button.kind == "callback_data"
            and button.value == callback_data
        ) or (text is not None and button.text == text):
            if button.kind == "pay":
                raise ControlError(400, f"button {button.text!r} pays the invoice: use /pay")
            if button.kind != "callback_data":
                raise ControlError(400, f"button {button.text!r} is a {button.kind} button")
            return str(button.value)
    wanted = f"callback_data {callback_data!r}" if callback_data is not None else f"text {text!r}"
    raise ControlError(400, f"message {message.message_id} has no button with {wanted}")


def _check_secret_token(secret: str) -> None:
    if len(secret) > 256:
        raise bad_request("secret token is too long")
    if any(not (c.isascii() and (c.isalnum() or c in "_-")) for c in secret):
        raise bad_request("secret token contains unallowed characters")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_reserved_ip(host: str) -> bool:
    return not ipaddress.ip_address(host).is_global


def _random_base64(rng: random.Random, length: int) -> str:
    raw = bytes(rng.getrandbits(8) for _ in range(length))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]
