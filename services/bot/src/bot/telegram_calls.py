"""The one path every Telegram call of the bot takes, and what each failure means.

Installed as a request middleware on the bot's session, so handlers, consumers and workers
all get the same answers:

- flood control (429 with ``retry_after``), a 5xx (the API's JSON or its nginx's HTML page),
  or no connection: Telegram did not act;
  :class:`TelegramUnavailable`, a :class:`RetryLater` that waits at least ``retry_after``;
- a timeout or a connection lost after the request went out: Telegram may have acted;
  :class:`TelegramUncertain`, also retryable, but a caller that must not repeat a visible
  message (a new message with a payment link) treats it as done;
- "message is not modified": the screen already shows this; done;
- an answer to a button press past Telegram's window ("query is too old"): only the
  little progress indicator is lost, the press itself is still carried out; done;
- anything else (a blocked bot, a bad request) is raised as aiogram raised it.
"""

from __future__ import annotations

import logging
from typing import cast

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    ClientDecodeError,
    RestartingTelegram,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiohttp import ClientConnectorError
from prometheus_client import Counter

from chassis.messaging.consumer import RetryLater

log = logging.getLogger(__name__)

CALLS = Counter(
    "telegram_calls_total",
    "Bot API calls of the bot, by method and outcome "
    "(ok, not_modified, answer_too_late, flood, unavailable, uncertain, refused)",
    ["method", "outcome"],
)


class TelegramUnavailable(RetryLater):
    """Telegram did not carry out the call; making it again is safe."""


class TelegramUncertain(RetryLater):
    """The call may have been carried out; repeating it could show something twice."""


def is_not_modified(error: TelegramBadRequest) -> bool:
    return "message is not modified" in error.message


def is_answer_too_late(error: TelegramBadRequest) -> bool:
    return "query is too old" in error.message or "query ID is invalid" in error.message


def is_gone(error: TelegramBadRequest) -> bool:
    """The message can no longer be edited: deleted, too old, or not the bot's."""
    text = error.message
    return "message to edit not found" in text or "message can't be edited" in text


class TelegramCallPolicy(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = type(method).__name__
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter as exc:
            CALLS.labels(name, "flood").inc()
            raise TelegramUnavailable(
                f"Telegram flood control on {name}: retry after {exc.retry_after}s",
                after_s=float(exc.retry_after),
            ) from exc
        except (TelegramServerError, RestartingTelegram) as exc:
            CALLS.labels(name, "unavailable").inc()
            raise TelegramUnavailable(f"Telegram failed {name}: {exc.message}") from exc
        except ClientDecodeError as exc:
            # Not the Bot API's JSON: the proxy in front of it (nginx's 502 page) answered.
            CALLS.labels(name, "unavailable").inc()
            raise TelegramUnavailable(
                f"Telegram's front answered {name} with no API reply"
            ) from exc
        except TelegramNetworkError as exc:
            if isinstance(exc.__cause__, ClientConnectorError):
                CALLS.labels(name, "unavailable").inc()
                raise TelegramUnavailable(f"Telegram unreachable for {name}: {exc}") from exc
            CALLS.labels(name, "uncertain").inc()
            raise TelegramUncertain(f"no answer from Telegram to {name}: {exc}") from exc
        except TelegramBadRequest as exc:
            if is_not_modified(exc):
                CALLS.labels(name, "not_modified").inc()
                return cast("Response[TelegramType]", _DONE)
            if isinstance(method, AnswerCallbackQuery) and is_answer_too_late(exc):
                CALLS.labels(name, "answer_too_late").inc()
                log.info("button pressed too long ago to answer; the press is still handled")
                return cast("Response[TelegramType]", _DONE)
            CALLS.labels(name, "refused").inc()
            raise
        except Exception:
            CALLS.labels(name, "refused").inc()
            raise
        CALLS.labels(name, "ok").inc()
        return response


# ``True`` is what Telegram answers edits of inline messages and callback answers with;
# callers of these methods never read the result.
_DONE = Response[bool](ok=True, result=True)
