"""A client for the control API, for tests, demos and benchmarks.

    async with TelegramSandboxControl(server.url, token) as telegram:
        user = await telegram.create_user("Anna")
        await telegram.send_text(user.id, "/start")
        welcome = await telegram.wait_for_bot_message(user.id, contains="Welcome")
        await telegram.press_button(user.id, welcome.message_id, text="Buy")

``wait_for_bot_message`` looks at what the bot sent after this client's last action for that
user (or after ``after``), so an answer that arrives before the wait starts is not missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx

from sandbox.control import SandboxControlError

_LONG_POLL_MARGIN = 10.0


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
