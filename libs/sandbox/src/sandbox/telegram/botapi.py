"""Bot API methods: read parameters the way the Bot API server does, in its order, then hand
the parsed call to the emulator. Method names are case-insensitive.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sandbox.telegram.emulator import (
    LONG_POLL_MAX_TIMEOUT,
    BotState,
    MessageTarget,
    PhotoReference,
    PhotoUpload,
    SendOptions,
    TelegramEmulator,
)
from sandbox.telegram.entities import FormattedText
from sandbox.telegram.errors import BotApiError, bad_request, not_found
from sandbox.telegram.formatting import check_message_text, parse_formatted_text
from sandbox.telegram.markup import ReplyMarkup, parse_reply_markup
from sandbox.telegram.payments import parse_invoice_request
from sandbox.telegram.wire import Params, json_text, to_integer

UrlFetcher = Callable[[str], Awaitable[bytes]]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_CACHE_TIME = 2_592_000
_LINK_PREVIEW_FLAGS = ("prefer_small_media", "prefer_large_media", "show_above_text")


@dataclass(frozen=True)
class MethodCall:
    emulator: TelegramEmulator
    bot: BotState
    params: Params
    fetch_url: UrlFetcher


@dataclass(frozen=True)
class MethodResult:
    result_json: str
    description: str | None = None


Handler = Callable[[MethodCall], Awaitable[MethodResult]]
_METHODS: dict[str, Handler] = {}


def _method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _METHODS[name.lower()] = handler
        return handler

    return register


def handler_for(method: str) -> Handler:
    handler = _METHODS.get(method.lower())
    if handler is None:
        raise not_found()
    return handler


def method_names() -> list[str]:
    return sorted(_METHODS)


def _result(value: Any, description: str | None = None) -> MethodResult:
    return MethodResult(json_text(value), description)


@_method("getMe")
async def get_me(call: MethodCall) -> MethodResult:
    return _result(call.bot.profile.get_me_json())


@_method("getUpdates")
async def get_updates(call: MethodCall) -> MethodResult:
    p = call.params
    updates = await call.emulator.get_updates(
        call.bot,
        offset=p.integer("offset", default=0, lowest=INT32_MIN, highest=INT32_MAX),
        limit=p.integer("limit", default=100, lowest=1, highest=100),
        timeout=p.integer("timeout", default=0, lowest=0, highest=LONG_POLL_MAX_TIMEOUT),
        allowed_updates=p.text("allowed_updates"),
    )
    return MethodResult("[" + ",".join(update.to_json() for update in updates) + "]")


@_method("setWebhook")
async def set_webhook(call: MethodCall) -> MethodResult:
    p = call.params
    description = call.emulator.set_webhook(
        call.bot,
        url=p.text("url"),
        secret_token=p.text("secret_token"),
        max_connections=p.integer("max_connections", default=40, lowest=1, highest=100),
        allowed_updates=p.text("allowed_updates"),
        ip_address=p.text("ip_address"),
        drop_pending_updates=p.flag("drop_pending_updates"),
    )
    return _result(True, description)


@_method("deleteWebhook")
async def delete_webhook(call: MethodCall) -> MethodResult:
    drop = call.params.flag("drop_pending_updates")
    return _result(True, call.emulator.delete_webhook(call.bot, drop_pending_updates=drop))


@_method("getWebhookInfo")
async def get_webhook_info(call: MethodCall) -> MethodResult:
    return _result(call.emulator.webhook_info(call.bot))


@_method("sendMessage")
async def send_message(call: MethodCall) -> MethodResult:
    p = call.params
    text = _message_text(p)
    options = _send_options(p)
    markup = parse_reply_markup(p.text("reply_markup"))
    message = call.emulator.send_message(call.bot, p.text("chat_id"), text, markup, options)
    return _result(message)


@_method("sendPhoto")
async def send_photo(call: MethodCall) -> MethodResult:
    p = call.params
    photo = await _photo_input(call)
    caption = parse_formatted_text(
        p.text("caption"), p.text("parse_mode"), p.text("caption_entities")
    )
    options = _send_options(p)
    markup = parse_reply_markup(p.text("reply_markup"))
    message = call.emulator.send_photo(call.bot, p.text("chat_id"), photo, caption, markup, options)
    return _result(message)


@_method("editMessageText")
async def edit_message_text(call: MethodCall) -> MethodResult:
    p = call.params
    text = _message_text(p)
    link_preview = _link_preview_options(p)
    markup = _inline_markup(p)
    message = call.emulator.edit_message_text(call.bot, _target(p), text, markup, link_preview)
    return _result(message)


@_method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: MethodCall) -> MethodResult:
    p = call.params
    markup = _inline_markup(p)
    return _result(call.emulator.edit_message_reply_markup(call.bot, _target(p), markup))


@_method("deleteMessage")
async def delete_message(call: MethodCall) -> MethodResult:
    p = call.params
    call.emulator.delete_message(call.bot, p.text("chat_id"), to_integer(p.text("message_id")))
    return _result(True)


@_method("answerCallbackQuery")
async def answer_callback_query(call: MethodCall) -> MethodResult:
    p = call.params
    call.emulator.answer_callback_query(
        call.bot,
        to_integer(p.text("callback_query_id")),
        text=p.text("text"),
        show_alert=p.flag("show_alert"),
        url=p.text("url"),
        cache_time=p.integer("cache_time", default=0, lowest=0, highest=MAX_CACHE_TIME),
    )
    return _result(True)


@_method("sendChatAction")
async def send_chat_action(call: MethodCall) -> MethodResult:
    p = call.params
    call.emulator.send_chat_action(call.bot, p.text("chat_id"), p.text("action"))
    return _result(True)


@_method("setMyCommands")
async def set_my_commands(call: MethodCall) -> MethodResult:
    p = call.params
    commands = _bot_commands(p.text("commands"))
    call.emulator.set_my_commands(call.bot, commands, _scope(p), p.text("language_code"))
    return _result(True)


@_method("getMyCommands")
async def get_my_commands(call: MethodCall) -> MethodResult:
    p = call.params
    return _result(call.emulator.get_my_commands(call.bot, _scope(p), p.text("language_code")))


@_method("deleteMyCommands")
async def delete_my_commands(call: MethodCall) -> MethodResult:
    p = call.params
    call.emulator.delete_my_commands(call.bot, _scope(p), p.text("language_code"))
    return _result(True)


@_method("sendInvoice")
async def send_invoice(call: MethodCall) -> MethodResult:
    p = call.params
    request = parse_invoice_request(p, subscriptions=False)
    options = _send_options(p)
    markup = parse_reply_markup(p.text("reply_markup"))
    message = call.emulator.send_invoice(call.bot, p.text("chat_id"), request, markup, options)
    return _result(message)


@_method("createInvoiceLink")
async def create_invoice_link(call: MethodCall) -> MethodResult:
    request = parse_invoice_request(call.params, subscriptions=True)
    return _result(call.emulator.create_invoice_link(call.bot, request))


@_method("answerPreCheckoutQuery")
async def answer_pre_checkout_query(call: MethodCall) -> MethodResult:
    p = call.params
    query_id = to_integer(p.text("pre_checkout_query_id"))
    ok = p.flag("ok")
    error_message = "" if ok else p.required("error_message")
    call.emulator.answer_pre_checkout_query(call.bot, query_id, ok=ok, error_message=error_message)
    return _result(True)


@_method("refundStarPayment")
async def refund_star_payment(call: MethodCall) -> MethodResult:
    p = call.params
    user_id = _user_id(p)
    charge_id = p.required("telegram_payment_charge_id")
    call.emulator.refund_star_payment(call.bot, user_id, charge_id)
    return _result(True)


@_method("editUserStarSubscription")
async def edit_user_star_subscription(call: MethodCall) -> MethodResult:
    p = call.params
    call.emulator.edit_user_star_subscription(
        call.bot,
        _user_id(p),
        p.text("telegram_payment_charge_id"),
        is_canceled=p.flag("is_canceled"),
    )
    return _result(True)


@_method("getStarTransactions")
async def get_star_transactions(call: MethodCall) -> MethodResult:
    p = call.params
    offset = p.integer("offset", default=0, lowest=0, highest=INT32_MAX)
    limit = p.integer("limit", default=100, lowest=1, highest=100)
    return _result(call.emulator.star_transactions(call.bot, offset=offset, limit=limit))


@_method("getMyStarBalance")
async def get_my_star_balance(call: MethodCall) -> MethodResult:
    return _result(call.emulator.my_star_balance(call.bot))


def _user_id(p: Params) -> int:
    user_id = max(to_integer(p.text("user_id")), 0)
    if user_id == 0:
        raise bad_request("invalid user_id specified")
    return user_id


def _message_text(p: Params) -> FormattedText:
    text = p.text("text")
    check_message_text(text)
    return parse_formatted_text(text, p.text("parse_mode"), p.text("entities"))


def _send_options(p: Params) -> SendOptions:
    reply_to, allow_without_reply = _reply_parameters(p)
    return SendOptions(
        reply_to_message_id=reply_to,
        allow_sending_without_reply=allow_without_reply,
        protect_content=p.flag("protect_content"),
        paid_broadcast=p.flag("allow_paid_broadcast"),
        link_preview_options=_link_preview_options(p),
    )


def _reply_parameters(p: Params) -> tuple[int, bool]:
    raw = p.text("reply_parameters")
    if raw.strip() == "":
        return to_integer(p.text("reply_to_message_id")), p.flag("allow_sending_without_reply")
    value = _json_object(raw, "can't parse reply parameters JSON object")
    message_id = value.get("message_id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise bad_request("can't parse ReplyParameters: Can't find field \"message_id\"")
    return message_id, value.get("allow_sending_without_reply") is True


def _link_preview_options(p: Params) -> str | None:
    """The options as the sent message echoes them: only set flags and a non-empty url."""
    raw = p.text("link_preview_options")
    if raw.strip() == "":
        return '{"is_disabled":true}' if p.flag("disable_web_page_preview") else None
    value = _json_object(raw, "can't parse link preview options JSON object")
    echoed: dict[str, Any] = {}
    if value.get("is_disabled") is True:
        echoed["is_disabled"] = True
    if isinstance(value.get("url"), str) and value["url"]:
        echoed["url"] = value["url"]
    for flag in _LINK_PREVIEW_FLAGS:
        if value.get(flag) is True:
            echoed[flag] = True
    return json_text(echoed) if echoed else None


def _inline_markup(p: Params) -> ReplyMarkup | None:
    markup = parse_reply_markup(p.text("reply_markup"))
    if markup is not None and markup.inline is None:
        raise bad_request("inline keyboard expected")
    return markup


def _target(p: Params) -> MessageTarget:
    return MessageTarget(
        chat_id=p.text("chat_id"),
        message_id=to_integer(p.text("message_id")),
        inline_message_id=p.text("inline_message_id"),
    )


async def _photo_input(call: MethodCall) -> PhotoUpload | PhotoReference:
    """attach://<part>, a part named "photo", a file_id, or an HTTP URL the server fetches."""
    value = call.params.text("photo")
    if value.startswith("attach://"):
        upload = call.params.file(value.removeprefix("attach://"))
    elif value == "":
        upload = call.params.file("photo")
    elif "://" in value:
        return PhotoUpload(await _download(call, value))
    else:
        return PhotoReference(value)
    if upload is None:
        raise bad_request("there is no photo in the request")
    return PhotoUpload(upload.data)


async def _download(call: MethodCall, url: str) -> bytes:
    if not url.lower().startswith(("http://", "https://")):
        raise bad_request("wrong file identifier/HTTP URL specified")
    try:
        return await call.fetch_url(url)
    except Exception as error:  # any failure to fetch reads the same to the bot
        raise bad_request("wrong file identifier/HTTP URL specified") from error


def _bot_commands(raw: str) -> list[dict[str, str]]:
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise bad_request("can't parse commands JSON object") from error
    if not isinstance(value, list):
        raise bad_request("expected an Array of BotCommand")
    commands: list[dict[str, str]] = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand: expected an Object")
        command = {name: _command_field(item, name) for name in ("command", "description")}
        commands.append(command)
    return commands


def _command_field(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        raise bad_request(f"can't parse BotCommand: Can't find field \"{name}\"")
    if not isinstance(value, str):
        raise bad_request(f'can\'t parse BotCommand: Field "{name}" must be of type String')
    return value


def _scope(p: Params) -> str:
    raw = p.text("scope")
    if raw.strip() == "":
        return "default"
    value = _json_object(raw, "can't parse BotCommandScope JSON object")
    kind = value.get("type")
    if not isinstance(kind, str):
        raise bad_request("can't parse BotCommandScope: Can't find field \"type\"")
    return "default" if kind == "default" else json_text(value)


def _json_object(raw: str, error: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as decode_error:
        raise bad_request(error) from decode_error
    if not isinstance(value, dict):
        raise bad_request(error)
    return value


async def call_method(
    emulator: TelegramEmulator, bot: BotState, method: str, params: Params, fetch_url: UrlFetcher
) -> MethodResult:
    """Runs one Bot API method as ``bot``; raises BotApiError for an ok:false answer."""
    handler = handler_for(method)
    return await handler(MethodCall(emulator, bot, params, fetch_url))


__all__ = ["BotApiError", "MethodResult", "UrlFetcher", "call_method", "method_names"]
