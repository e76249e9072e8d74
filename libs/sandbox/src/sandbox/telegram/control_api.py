"""The control API under ``/sandbox/``: simulated users act, tests read what bots did.

JSON in and out; a refusal is ``{"error": "..."}`` with a 4xx status. Chat-level routes name
the bot by its token (``/sandbox/bot<token>/...``), like the Bot API, so that one emulator can
serve several bots.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.telegram.emulator import BotState, TelegramEmulator, UserAction
from sandbox.telegram.errors import BotApiError, ControlError
from sandbox.telegram.models import BotProfile, ChatMessage, PrivateChat, SimulatedUser
from sandbox.telegram.outage import Outage
from sandbox.telegram.payments import PaymentAttempt

MAX_FEED_WAIT = 60.0
_ANY_VERB = ["GET", "POST", "PUT", "PATCH", "DELETE"]

Endpoint = Callable[[Request], Awaitable[Response]]


def control_routes(emulator: TelegramEmulator) -> list[Route]:
    api = _ControlApi(emulator)
    chat = "/sandbox/bot{token}/users/{user_id:int}"
    return [
        Route("/sandbox/reset", _guarded(api.reset), methods=["POST"]),
        Route("/sandbox/bots", _guarded(api.list_bots), methods=["GET"]),
        Route("/sandbox/bots", _guarded(api.add_bot), methods=["POST"]),
        Route("/sandbox/users", _guarded(api.create_user), methods=["POST"]),
        Route("/sandbox/users/{user_id:int}", _guarded(api.get_user), methods=["GET"]),
        Route(
            "/sandbox/users/{user_id:int}/stars",
            _guarded(api.star_balance),
            methods=["GET", "PUT"],
        ),
        Route("/sandbox/payments", _guarded(api.payment_settings), methods=["GET", "PUT"]),
        Route("/sandbox/rate-limits", _guarded(api.rate_limits), methods=["GET", "POST"]),
        Route("/sandbox/outage", _guarded(api.outage), methods=["GET", "PUT", "DELETE"]),
        Route(f"{chat}/messages", _guarded(api.send_text), methods=["POST"]),
        Route(f"{chat}/press", _guarded(api.press_button), methods=["POST"]),
        Route(f"{chat}/block", _guarded(api.block), methods=["POST"]),
        Route(f"{chat}/unblock", _guarded(api.unblock), methods=["POST"]),
        Route(f"{chat}/transcript", _guarded(api.transcript), methods=["GET"]),
        Route(f"{chat}/pay", _guarded(api.pay), methods=["POST"]),
        Route(f"{chat}/renew", _guarded(api.renew), methods=["POST"]),
        Route(f"{chat}/payments", _guarded(api.payments), methods=["GET"]),
        Route("/sandbox/bot{token}/sent", _guarded(api.sent), methods=["GET"]),
        Route("/sandbox/bot{token}/stars", _guarded(api.bot_stars), methods=["GET"]),
        Route("/sandbox/{rest:path}", _guarded(api.unknown), methods=_ANY_VERB),
    ]


def _guarded(endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ControlError as error:
            return JSONResponse({"error": error.message}, status_code=error.status)

    return guarded


class _ControlApi:
    def __init__(self, emulator: TelegramEmulator) -> None:
        self._emulator = emulator
        self._checkouts: set[asyncio.Task[PaymentAttempt]] = set()

    async def reset(self, request: Request) -> Response:
        self._emulator.reset()
        return JSONResponse({"ok": True})

    async def list_bots(self, request: Request) -> Response:
        return JSONResponse([_bot_json(bot.profile) for bot in self._emulator.bots()])

    async def add_bot(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            profile = BotProfile(
                token=_string(body, "token"),
                username=_string(body, "username"),
                first_name=_string(body, "first_name"),
            )
        except ValueError as error:
            raise ControlError(400, str(error)) from error
        return JSONResponse(_bot_json(self._emulator.add_bot(profile)), status_code=201)

    async def create_user(self, request: Request) -> Response:
        body = await _json_body(request)
        user = self._emulator.create_user(
            _string(body, "first_name"),
            user_id=_optional_int(body, "id"),
            last_name=_optional_string(body, "last_name"),
            username=_optional_string(body, "username"),
            language_code=_optional_string(body, "language_code"),
            is_premium=body.get("is_premium") is True,
        )
        return JSONResponse(_user_json(user), status_code=201)

    async def get_user(self, request: Request) -> Response:
        return JSONResponse(_user_json(self._emulator.user(request.path_params["user_id"])))

    async def rate_limits(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _json_body(request)
            enabled = body.get("enabled")
            if not isinstance(enabled, bool):
                raise ControlError(400, '"enabled" must be true or false')
            self._emulator.set_rate_limits(enabled)
        return JSONResponse({"enabled": self._emulator.rate_limits})

    async def outage(self, request: Request) -> Response:
        """PUT ``{"mode": "flood"|"error", "status", "retry_after", "methods"}``; DELETE ends it."""
        if request.method == "PUT":
            body = await _json_body(request)
            methods = body.get("methods") or []
            if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
                raise ControlError(400, '"methods" must be a list of method names')
            try:
                self._emulator.outage = Outage(
                    mode=body.get("mode", "error"),
                    status=_optional_int(body, "status") or 502,
                    retry_after=_optional_int(body, "retry_after") or 5,
                    methods=frozenset(m.lower() for m in methods),
                )
            except ValueError as error:
                raise ControlError(400, str(error)) from error
        elif request.method == "DELETE":
            self._emulator.outage = None
        outage = self._emulator.outage
        return JSONResponse({"outage": outage.as_dict() if outage is not None else None})

    async def send_text(self, request: Request) -> Response:
        bot, user_id = self._chat_route(request)
        text = _string(await _json_body(request), "text")
        action = self._emulator.user_sends_text(bot, user_id, text)
        return JSONResponse(_action_json(action))

    async def press_button(self, request: Request) -> Response:
        bot, user_id = self._chat_route(request)
        body = await _json_body(request)
        message_id = body.get("message_id")
        if not isinstance(message_id, int):
            raise ControlError(400, '"message_id" must be an integer')
        text, data = _optional_string(body, "text"), _optional_string(body, "callback_data")
        if (text is None) == (data is None):
            raise ControlError(400, 'give exactly one of "text" and "callback_data"')
        query, action = self._emulator.user_presses_button(
            bot, user_id, message_id, text=text, callback_data=data
        )
        return JSONResponse({"callback_query_id": query.id, **_action_json(action)})

    async def block(self, request: Request) -> Response:
        bot, user_id = self._chat_route(request)
        return JSONResponse(_action_json(self._emulator.set_blocked(bot, user_id, blocked=True)))

    async def unblock(self, request: Request) -> Response:
        bot, user_id = self._chat_route(request)
        return JSONResponse(_action_json(self._emulator.set_blocked(bot, user_id, blocked=False)))

    async def transcript(self, request: Request) -> Response:
        bot, user_id = self._chat_route(request)
        chat = self._emulator.existing_chat(bot, user_id)
        user = self._emulator.user(user_id)
        return JSONResponse(_transcript_json(bot, user, chat))

    async def star_balance(self, request: Request) -> Response:
        """PUT ``{"balance": N}`` sets how many Stars the user has."""
        user_id: int = request.path_params["user_id"]
        if request.method == "PUT":
            balance = _optional_int(await _json_body(request), "balance")
            if balance is None:
                raise ControlError(400, '"balance" must be an integer')
            self._emulator.set_star_balance(user_id, balance)
        return JSONResponse({"balance": self._emulator.star_balance(user_id)})

    async def payment_settings(self, request: Request) -> Response:
        """PUT ``{"pre_checkout_timeout": seconds}``: how long a checkout waits for the bot."""
        if request.method == "PUT":
            timeout = (await _json_body(request)).get("pre_checkout_timeout")
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
                raise ControlError(400, '"pre_checkout_timeout" must be a positive number')
            self._emulator.pre_checkout_timeout = float(timeout)
        return JSONResponse({"pre_checkout_timeout": self._emulator.pre_checkout_timeout})

    async def pay(self, request: Request) -> Response:
        """The user pays an invoice message or link; by default the answer waits for the
        outcome, with ``"wait": false`` it comes once the pre-checkout query is out."""
        bot, user_id = self._chat_route(request)
        body = await _json_body(request)
        message_id = _optional_int(body, "message_id")
        link = _optional_string(body, "invoice_link")
        balance = _optional_int(body, "balance")
        wait = body.get("wait", True)
        if not isinstance(wait, bool):
            raise ControlError(400, '"wait" must be true or false')
        if balance is not None:
            self._emulator.set_star_balance(user_id, balance)
        attempt = self._emulator.start_checkout(
            bot, user_id, message_id=message_id, invoice_link=link
        )
        if wait:
            attempt = await self._emulator.finish_checkout(bot, attempt)
        else:
            task = asyncio.create_task(self._emulator.finish_checkout(bot, attempt))
            self._checkouts.add(task)
            task.add_done_callback(self._checkouts.discard)
        return JSONResponse({**_payment_json(attempt), "seq": self._emulator.last_seq})

    async def renew(self, request: Request) -> Response:
        bot, user_id = self._chat_route(request)
        body = await _json_body(request)
        charge_id = _string(body, "telegram_payment_charge_id")
        balance = _optional_int(body, "balance")
        if balance is not None:
            self._emulator.set_star_balance(user_id, balance)
        attempt = self._emulator.renew_subscription(bot, user_id, charge_id)
        return JSONResponse({**_payment_json(attempt), "seq": self._emulator.last_seq})

    async def payments(self, request: Request) -> Response:
        bot, user_id = self._chat_route(request)
        chat = self._emulator.existing_chat(bot, user_id)
        attempts = chat.payments if chat is not None else []
        return JSONResponse({"payments": [_payment_json(attempt) for attempt in attempts]})

    async def bot_stars(self, request: Request) -> Response:
        bot = self._bot(request)
        return JSONResponse(
            {
                "balance": bot.stars.balance,
                "transactions": [entry.to_json() for entry in bot.stars.transactions],
            }
        )

    async def sent(self, request: Request) -> Response:
        bot = self._bot(request)
        after = _query_number(request, "after", 0.0)
        timeout = min(max(_query_number(request, "timeout", 0.0), 0.0), MAX_FEED_WAIT)
        events = await self._emulator.wait_sent_after(bot, int(after), timeout)
        return JSONResponse(
            {"events": [event.to_json() for event in events], "last_seq": self._emulator.last_seq}
        )

    async def unknown(self, request: Request) -> Response:
        raise ControlError(404, f"no control endpoint {request.method} {request.url.path}")

    def _bot(self, request: Request) -> BotState:
        try:
            return self._emulator.bot_for_token(request.path_params["token"])
        except BotApiError as error:
            raise ControlError(404, "no bot with this token") from error

    def _chat_route(self, request: Request) -> tuple[BotState, int]:
        bot = self._bot(request)
        user_id: int = request.path_params["user_id"]
        self._emulator.user(user_id)
        return bot, user_id


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise ControlError(400, f"the body is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    return body


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ControlError(400, f'"{name}" must be a string')
    return value


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    return None if body.get(name) is None else _string(body, name)


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ControlError(400, f'"{name}" must be an integer')
    return value


def _query_number(request: Request, name: str, default: float) -> float:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise ControlError(400, f"{name} must be a number") from error


def _bot_json(profile: BotProfile) -> dict[str, Any]:
    return {"token": profile.token, **profile.user_json()}


def _user_json(user: SimulatedUser) -> dict[str, Any]:
    return user.user_json()


def _action_json(action: UserAction) -> dict[str, Any]:
    update = json.loads(action.update.to_json()) if action.update is not None else None
    return {"message_id": action.message_id, "update": update, "seq": action.seq}


def _payment_json(attempt: PaymentAttempt) -> dict[str, Any]:
    update = json.loads(attempt.update.to_json()) if attempt.update is not None else None
    return {**attempt.to_json(), "update": update}


def _transcript_json(
    bot: BotState, user: SimulatedUser, chat: PrivateChat | None
) -> dict[str, Any]:
    messages = list(chat.messages.values()) if chat is not None else []
    queries = chat.callback_queries if chat is not None else []
    return {
        "bot": bot.profile.user_json(),
        "user": user.user_json(),
        "chat_id": user.id,
        "started": chat.started if chat is not None else False,
        "blocked": chat.blocked if chat is not None else False,
        "messages": [_transcript_message(message) for message in messages],
        "callback_queries": [
            {
                "id": query.id,
                "message_id": query.message_id,
                "data": query.data,
                "pressed_at": query.created_at,
                "answer": None
                if query.answer is None
                else {
                    "text": query.answer.text,
                    "show_alert": query.answer.show_alert,
                    "url": query.answer.url,
                    "cache_time": query.answer.cache_time,
                    "answered_at": query.answer.answered_at,
                },
            }
            for query in queries
        ],
    }


def _transcript_message(message: ChatMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "from": message.sender,
        "text": message.text.text if message.text is not None else None,
        "entities": message.text.entities_json() if message.text is not None else [],
        "photo": [size.to_json() for size in message.photo],
        "caption": message.caption.text if message.caption is not None else None,
        "caption_entities": message.caption.entities_json() if message.caption else [],
        "reply_markup": message.markup.shown_json() if message.markup is not None else None,
        "reply_to_message_id": message.reply_to_message_id,
        "invoice": message.invoice.to_json() if message.invoice is not None else None,
        "successful_payment": message.successful_payment,
        "refunded_payment": message.refunded_payment,
        "date": message.date,
        "edit_date": message.edit_date,
        "deleted": message.deleted,
        "accepted_at": message.accepted_at,
    }
