"""Sending a message through the Telegram Bot API, with its failures told apart.

What matters is whether Telegram may already have the message: a refused connection or
a 429 means it does not (retry); a timeout after the request went out means it might
(never retry, or the customer could read it twice).
"""

from __future__ import annotations

from typing import Any

import httpx

from chassis.http import third_party_client


class TelegramError(Exception):
    pass


class TelegramRetryAfter(TelegramError):
    def __init__(self, retry_after: int, description: str) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class TelegramUnavailable(TelegramError):
    """Not delivered (no connection, 5xx before processing): safe to send again."""


class TelegramUncertain(TelegramError):
    """The request may have been processed; sending again could duplicate the message."""


class TelegramRefused(TelegramError):
    """Telegram will never take this message (blocked bot, bad chat, bad text)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description


class TelegramClient:
    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = third_party_client(
            base_url=f"{api_url.rstrip('/')}/bot{token}/", timeout_s=timeout_s, transport=transport
        )

    async def send_message(
        self, chat_id: int, text: str, reply_markup: dict[str, object] | None = None
    ) -> int:
        """Send HTML text (with inline buttons, if given); returns Telegram's message id."""
        body: dict[str, Any] = {
            "chat_id": chat_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if reply_markup is not None:
            body["reply_markup"] = reply_markup
        try:
            response = await self._http.post("sendMessage", json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TelegramUnavailable(repr(exc)) from exc
        except httpx.HTTPError as exc:
            raise TelegramUncertain(repr(exc)) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code == 200 and answer.get("ok") is True:
            return int(answer["result"]["message_id"])
        description = str(answer.get("description", response.reason_phrase))
        retry_after = (answer.get("parameters") or {}).get("retry_after")
        if isinstance(retry_after, int):
            raise TelegramRetryAfter(retry_after, description)
        if response.status_code >= 500:
            raise TelegramUnavailable(f"{response.status_code} {description}")
        raise TelegramRefused(response.status_code, description)

    async def aclose(self) -> None:
        await self._http.aclose()
