"""A client for the control API, for tests, demos and benchmarks.

    async with TelegramSandboxControl(server.url, token) as telegram:
        user = await telegram.create_user("Anna")
        await telegram.send_text(user.id, "/start")
        welcome = await telegram.wait_for_bot_message(user.id, contains="Welcome")
        await telegram.press_button(user.id, welcome.message_id, text="Buy")

``wait_for_bot_message`` looks at what the bot sent after this client's last action for that
user (or after ``after``), so an answer that arrives before the wait starts is not missed.

Telegram Stars: the user pays an invoice the bot sent (or an invoice link it created); the
bot gets a ``pre_checkout_query`` and must answer it within 10 s, as on Telegram
(``set_pre_checkout_timeout`` shortens the window for tests):

    invoice = await telegram.wait_for_bot_message(user.id, lambda m: m.invoice is not None)
    payment = await telegram.pay_invoice(user.id, invoice.message_id, balance=500)
    assert payment.status == "paid"  # or "declined", "timed_out", "insufficient_balance"
    await telegram.renew_subscription(user.id, payment.telegram_payment_charge_id)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx

from sandbox.control import SandboxControlError

_LONG_POLL_MARGIN = 10.0
_PAYMENT_POLL_INTERVAL = 0.02

PaymentStatus = Literal[
    "pending", "paid", "declined", "timed_out", "insufficient_balance", "canceled"
]


@dataclass(frozen=True)
class SandboxUser:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    is_premium: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SandboxUser:
        return cls(
            id=body["id"],
            first_name=body["first_name"],
            last_name=body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code"),
            is_premium=body.get("is_premium", False),
        )


@dataclass(frozen=True)
class UserMessage:
    """A message a simulated user sent, and the update it became (None if filtered out)."""

    message_id: int
    update: dict[str, Any] | None
    seq: int


@dataclass(frozen=True)
class BotMessage:
    """One entry of the feed of what the bot sent or edited, across all chats."""

    seq: int
    chat_id: int
    message_id: int
    kind: Literal["sent", "edited"]
    text: str | None
    caption: str | None
    reply_markup: dict[str, Any] | None
    accepted_at: float
    invoice: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> BotMessage:
        return cls(
            seq=body["seq"],
            chat_id=body["chat_id"],
            message_id=body["message_id"],
            kind=body["kind"],
            text=body["text"],
            caption=body["caption"],
            reply_markup=body["reply_markup"],
            accepted_at=body["accepted_at"],
            invoice=body.get("invoice"),
        )

    @property
    def button_texts(self) -> list[str]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button["text"] for row in rows for button in row]


@dataclass(frozen=True)
class TranscriptMessage:
    message_id: int
    sender: Literal["bot", "user"]
    text: str | None
    entities: list[dict[str, Any]]
    photo: list[dict[str, Any]]
    caption: str | None
    reply_markup: dict[str, Any] | None
    reply_to_message_id: int | None
    date: int
    edit_date: int | None
    deleted: bool
    accepted_at: float
    invoice: dict[str, Any] | None = None
    successful_payment: dict[str, Any] | None = None
    refunded_payment: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TranscriptMessage:
        return cls(
            message_id=body["message_id"],
            sender=body["from"],
            text=body["text"],
            entities=body["entities"],
            photo=body["photo"],
            caption=body["caption"],
            reply_markup=body["reply_markup"],
            reply_to_message_id=body["reply_to_message_id"],
            date=body["date"],
            edit_date=body["edit_date"],
            deleted=body["deleted"],
            accepted_at=body["accepted_at"],
            invoice=body.get("invoice"),
            successful_payment=body.get("successful_payment"),
            refunded_payment=body.get("refunded_payment"),
        )


@dataclass(frozen=True)
class CallbackAnswer:
    text: str
    show_alert: bool
    url: str
    cache_time: int
    answered_at: float


@dataclass(frozen=True)
class CallbackQueryRecord:
    id: str
    message_id: int
    data: str
    pressed_at: float
    answer: CallbackAnswer | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> CallbackQueryRecord:
        answer = body["answer"]
        return cls(
            id=body["id"],
            message_id=body["message_id"],
            data=body["data"],
            pressed_at=body["pressed_at"],
            answer=CallbackAnswer(**answer) if answer is not None else None,
        )


@dataclass(frozen=True)
class Transcript:
    chat_id: int
    started: bool
    blocked: bool
    messages: list[TranscriptMessage]
    callback_queries: list[CallbackQueryRecord]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Transcript:
        return cls(
            chat_id=body["chat_id"],
            started=body["started"],
            blocked=body["blocked"],
            messages=[TranscriptMessage.from_json(item) for item in body["messages"]],
            callback_queries=[
                CallbackQueryRecord.from_json(item) for item in body["callback_queries"]
            ],
        )

    def bot_messages(self) -> list[TranscriptMessage]:
        return [message for message in self.messages if message.sender == "bot"]

    def callback_query(self, query_id: str) -> CallbackQueryRecord:
        for query in self.callback_queries:
            if query.id == query_id:
                return query
        raise KeyError(query_id)


@dataclass(frozen=True)
class StarsPayment:
    """A payment as the customer saw it: a checkout of an invoice, or a renewal.

    ``status``: ``pending`` (the bot has the pre-checkout query), ``paid``, ``declined``
    (the bot answered not ok; ``error_message`` is what the user was shown), ``timed_out``
    (no answer within the window), ``insufficient_balance`` or, for a renewal, ``canceled``
    (the bot cancelled the subscription). ``update`` is the successful_payment update.
    """

    kind: Literal["checkout", "renewal"]
    status: PaymentStatus
    pre_checkout_query_id: str | None
    telegram_payment_charge_id: str | None
    error_message: str | None
    currency: str
    total_amount: int
    invoice_payload: str
    subscription_expiration_date: int | None
    invoice_message_id: int | None
    invoice_link: str | None
    started_at: float
    finished_at: float | None
    update: dict[str, Any] | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> StarsPayment:
        return cls(
            kind=body["kind"],
            status=body["status"],
            pre_checkout_query_id=body["pre_checkout_query_id"],
            telegram_payment_charge_id=body["telegram_payment_charge_id"],
            error_message=body["error_message"],
            currency=body["currency"],
            total_amount=body["total_amount"],
            invoice_payload=body["invoice_payload"],
            subscription_expiration_date=body["subscription_expiration_date"],
            invoice_message_id=body["invoice_message_id"],
            invoice_link=body["invoice_link"],
            started_at=body["started_at"],
            finished_at=body["finished_at"],
            update=body["update"],
        )


@dataclass(frozen=True)
class BotStars:
    """The bot's Stars balance and every transaction, oldest first, as getStarTransactions."""

    balance: int
    transactions: list[dict[str, Any]]


class TelegramSandboxControl:
    """Drives the Telegram sandbox's control API for one bot (named by its token)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, trust_env=False)
        self._marks: dict[int, int] = {}
        self._pre_checkout_timeout: float | None = None

    async def __aenter__(self) -> TelegramSandboxControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def create_user(
        self,
        first_name: str = "Test",
        *,
        user_id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool = False,
    ) -> SandboxUser:
        body = {
            "id": user_id,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
            "is_premium": is_premium,
        }
        return SandboxUser.from_json(await self._request("POST", "/sandbox/users", body))

    async def send_text(self, user_id: int, text: str) -> UserMessage:
        body = await self._request("POST", self._chat_path(user_id, "messages"), {"text": text})
        self._marks[user_id] = body["seq"]
        return UserMessage(body["message_id"], body["update"], body["seq"])

    async def press_button(
        self,
        user_id: int,
        message_id: int,
        *,
        text: str | None = None,
        callback_data: str | None = None,
    ) -> str:
        """Presses a callback button of a bot message; returns the callback query id."""
        payload: dict[str, Any] = {"message_id": message_id}
        if text is not None:
            payload["text"] = text
        if callback_data is not None:
            payload["callback_data"] = callback_data
        body = await self._request("POST", self._chat_path(user_id, "press"), payload)
        self._marks[user_id] = body["seq"]
        return str(body["callback_query_id"])

    async def block(self, user_id: int) -> None:
        await self._request("POST", self._chat_path(user_id, "block"))

    async def unblock(self, user_id: int) -> None:
        await self._request("POST", self._chat_path(user_id, "unblock"))

    async def transcript(self, user_id: int) -> Transcript:
        body = await self._request("GET", self._chat_path(user_id, "transcript"))
        return Transcript.from_json(body)

    async def bot_messages_since(
        self,
        seq: int = 0,
        *,
        timeout: float = 0.0,  # noqa: ASYNC109 - the server-side long-poll duration
    ) -> list[BotMessage]:
        """What the bot sent after ``seq``; waits up to ``timeout`` s for at least one."""
        body = await self._request(
            "GET",
            f"/sandbox/bot{self._token}/sent",
            params={"after": seq, "timeout": timeout},
            read_timeout=timeout + _LONG_POLL_MARGIN,
        )
        return [BotMessage.from_json(event) for event in body["events"]]

    async def wait_for_bot_message(
        self,
        user_id: int,
        predicate: Callable[[BotMessage], bool] | None = None,
        *,
        contains: str | None = None,
        after: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - spread over several server-side long polls
    ) -> BotMessage:
        """The first message the bot sent or edited in this chat that matches."""
        cursor = self._marks.get(user_id, 0) if after is None else after
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while (remaining := deadline - time.monotonic()) > 0:
            for event in await self.bot_messages_since(cursor, timeout=remaining):
                cursor = event.seq
                if event.chat_id != user_id:
                    continue
                if _matches(event, predicate, contains):
                    return event
                seen.append(f"{event.kind} {event.message_id}: {event.text or event.caption!r}")
        raise TimeoutError(
            f"no matching bot message to {user_id} within {timeout} s; saw {seen or 'nothing'}"
        )

    async def pay_invoice(
        self,
        user_id: int,
        message_id: int | None = None,
        *,
        invoice_link: str | None = None,
        balance: int | None = None,
        wait: bool = True,
    ) -> StarsPayment:
        """The user pays an invoice message (or an invoice link): sets the user's Stars to
        ``balance`` first if given. With ``wait`` the call returns the outcome once the bot
        answered the pre-checkout query or the window ran out; without, it returns at once
        with status ``pending`` (see ``wait_for_payment``)."""
        body: dict[str, Any] = {
            "message_id": message_id,
            "invoice_link": invoice_link,
            "balance": balance,
            "wait": wait,
        }
        result = await self._request(
            "POST", self._chat_path(user_id, "pay"), body, read_timeout=self._payment_timeout()
        )
        self._marks[user_id] = result["seq"]
        return StarsPayment.from_json(result)

    async def renew_subscription(
        self, user_id: int, telegram_payment_charge_id: str, *, balance: int | None = None
    ) -> StarsPayment:
        """Charges the next period of the subscription that charge belongs to, as Telegram
        does when a period ends: ``paid``, ``insufficient_balance`` or ``canceled``."""
        body = {"telegram_payment_charge_id": telegram_payment_charge_id, "balance": balance}
        result = await self._request("POST", self._chat_path(user_id, "renew"), body)
        self._marks[user_id] = result["seq"]
        return StarsPayment.from_json(result)

    async def payments(self, user_id: int) -> list[StarsPayment]:
        """Every payment this user tried with this bot, oldest first."""
        body = await self._request("GET", self._chat_path(user_id, "payments"))
        return [StarsPayment.from_json(item) for item in body["payments"]]

    async def wait_for_payment(
        self,
        user_id: int,
        pre_checkout_query_id: str,
        *,
        timeout: float = 15.0,  # noqa: ASYNC109 - spread over several short reads
    ) -> StarsPayment:
        """The outcome of a checkout started with ``wait=False``."""
        deadline = time.monotonic() + timeout
        while True:
            for payment in await self.payments(user_id):
                matches = payment.pre_checkout_query_id == pre_checkout_query_id
                if matches and payment.status != "pending":
                    return payment
            if time.monotonic() > deadline:
                raise TimeoutError(f"checkout {pre_checkout_query_id} still pending")
            await asyncio.sleep(_PAYMENT_POLL_INTERVAL)

    async def set_star_balance(self, user_id: int, balance: int) -> int:
        body = await self._request("PUT", f"/sandbox/users/{user_id}/stars", {"balance": balance})
        return int(body["balance"])

    async def star_balance(self, user_id: int) -> int:
        """The user's Stars (every user starts with the emulator's default balance)."""
        return int((await self._request("GET", f"/sandbox/users/{user_id}/stars"))["balance"])

    async def bot_stars(self) -> BotStars:
        body = await self._request("GET", f"/sandbox/bot{self._token}/stars")
        return BotStars(balance=body["balance"], transactions=body["transactions"])

    async def set_pre_checkout_timeout(self, seconds: float) -> None:
        """How long a checkout waits for answerPreCheckoutQuery; reset restores 10 s."""
        await self._request("PUT", "/sandbox/payments", {"pre_checkout_timeout": seconds})
        self._pre_checkout_timeout = seconds

    async def outage(
        self,
        mode: str = "error",
        *,
        status: int = 502,
        retry_after: int = 5,
        methods: list[str] | None = None,
    ) -> dict[str, Any]:
        """Make the Bot API fail: ``flood`` answers 429 ``retry_after``, ``error`` a 5xx."""
        body = {"mode": mode, "status": status, "retry_after": retry_after, "methods": methods}
        result: dict[str, Any] = await self._request("PUT", "/sandbox/outage", body)
        return result

    async def restore(self) -> None:
        """End the outage."""
        await self._request("DELETE", "/sandbox/outage")

    async def set_rate_limits(self, enabled: bool) -> None:
        await self._request("POST", "/sandbox/rate-limits", {"enabled": enabled})

    async def add_bot(self, token: str, username: str, first_name: str) -> dict[str, Any]:
        body = {"token": token, "username": username, "first_name": first_name}
        result: dict[str, Any] = await self._request("POST", "/sandbox/bots", body)
        return result

    async def reset(self) -> None:
        await self._request("POST", "/sandbox/reset")
        self._marks.clear()
        self._pre_checkout_timeout = None

    def _payment_timeout(self) -> float:
        # A checkout holds the request open for the whole answer window.
        window = self._pre_checkout_timeout or 10.0
        return max(window + _LONG_POLL_MARGIN, 30.0)

    def _chat_path(self, user_id: int, action: str) -> str:
        return f"/sandbox/bot{self._token}/users/{user_id}/{action}"

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, Any] | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        extra: dict[str, Any] = {} if read_timeout is None else {"timeout": read_timeout}
        response = await self._client.request(
            method, self._base_url + path, json=body, params=params, **extra
        )
        if response.is_error:
            try:
                message = str(response.json().get("error", response.text))
            except ValueError:
                message = response.text
            raise SandboxControlError(response.status_code, message)
        return response.json()


def _matches(
    event: BotMessage, predicate: Callable[[BotMessage], bool] | None, contains: str | None
) -> bool:
    if contains is not None and contains not in (event.text or event.caption or ""):
        return False
    return predicate is None or predicate(event)
