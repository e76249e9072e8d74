"""reply_markup: parsing (Bot API server), then TDLib's checks, then the Telegram server's.

Only inline keyboards travel with a message; reply keyboards, removals and force-reply are
accepted and shown to the user (the transcript keeps them) but never echoed back, as
Telegram does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandbox.telegram.errors import bad_request
from sandbox.telegram.links import LinkError, check_link

MAX_CALLBACK_DATA_BYTES = 64

# The kinds of inline button that carry one typed field beside "text", in the order the
# server tries them.
_STRING_KINDS = ("url", "callback_data", "switch_inline_query", "switch_inline_query_current_chat")
_OBJECT_KINDS = ("web_app", "login_url", "switch_inline_query_chosen_chat", "copy_text")


@dataclass(frozen=True)
class InlineButton:
    text: str
    kind: str
    value: Any  # str for url/callback_data/switch_*, dict for web_app etc., True for pay

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, self.kind: self.value}


@dataclass(frozen=True)
class InlineKeyboard:
    rows: tuple[tuple[InlineButton, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"inline_keyboard": [[button.to_json() for button in row] for row in self.rows]}

    def buttons(self) -> list[InlineButton]:
        return [button for row in self.rows for button in row]


@dataclass(frozen=True)
class ReplyMarkup:
    """What the bot asked to show: an inline keyboard, or another markup kept for the user."""

    inline: InlineKeyboard | None
    shown: str | None  # the non-inline markup as JSON text, as the user's client would show it

    def shown_json(self) -> dict[str, Any] | None:
        if self.inline is not None:
            return self.inline.to_json()
        return json.loads(self.shown) if self.shown is not None else None


def parse_reply_markup(raw: str) -> ReplyMarkup | None:
    """The Bot API server's own parsing; errors here come before any chat is looked at."""
    if raw.strip() == "":
        return None
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise bad_request("can't parse reply keyboard markup JSON object") from error
    if not isinstance(value, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" in value:
        rows = _rows(value["inline_keyboard"], "inline_keyboard", "InlineKeyboardMarkup")
        buttons = tuple(tuple(_inline_button(button) for button in row) for row in rows)
        keyboard = InlineKeyboard(tuple(row for row in buttons if row))
        # An empty inline keyboard is no markup at all: the usual way to remove one.
        return ReplyMarkup(inline=keyboard, shown=None) if keyboard.rows else None
    if "keyboard" in value:
        rows = _rows(value["keyboard"], "keyboard", "ReplyKeyboardMarkup")
        shown = {
            **value,
            "keyboard": [[_keyboard_button(button) for button in row] for row in rows],
        }
        return ReplyMarkup(inline=None, shown=json.dumps(shown, ensure_ascii=False))
    if value.get("remove_keyboard") is True or value.get("force_reply") is True:
        return ReplyMarkup(inline=None, shown=json.dumps(value, ensure_ascii=False))
    return None


def _rows(value: Any, field: str, kind: str) -> list[list[Any]]:
    if not isinstance(value, list):
        raise bad_request(f'field "{field}" of the {kind} must be an Array')
    if not all(isinstance(row, list) for row in value):
        raise bad_request(f'field "{field}" of the {kind} must be an Array of Arrays')
    return value


def _inline_button(button: Any) -> InlineButton:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str):
        raise bad_request(
            "can't parse inline keyboard button: " + _missing_or_wrong_type("text", text)
        )
    for kind in _STRING_KINDS:
        value = button.get(kind)
        # An empty switch_inline_query is meaningful (an empty query); other empty values
        # count as absent.
        if isinstance(value, str) and (value or kind.startswith("switch_inline_query")):
            return InlineButton(text, kind, value)
    if "callback_game" in button:
        return InlineButton(text, "callback_game", {})
    if button.get("pay") is True:
        return InlineButton(text, "pay", True)
    for kind in _OBJECT_KINDS:
        if isinstance(button.get(kind), dict):
            return InlineButton(text, kind, button[kind])
    raise bad_request(
        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
    )


def _missing_or_wrong_type(field: str, value: Any) -> str:
    if value is None:
        return f'Can\'t find field "{field}"'
    return f'Field "{field}" must be of type String'


def _keyboard_button(button: Any) -> Any:
    if isinstance(button, str):
        return {"text": button}
    if isinstance(button, dict) and isinstance(button.get("text"), str):
        return button
    detail = "KeyboardButton must be a String or an Object"
    if isinstance(button, dict):
        detail = _missing_or_wrong_type("text", button.get("text"))
    raise bad_request(f"can't parse keyboard button: {detail}")


def check_inline_keyboard(keyboard: InlineKeyboard) -> InlineKeyboard:
    """TDLib's checks, made when the message is built: texts and URLs; URLs normalized."""
    rows: list[tuple[InlineButton, ...]] = []
    for row in keyboard.rows:
        checked: list[InlineButton] = []
        for button in row:
            if button.text == "":
                raise bad_request("inline keyboard button text must be non-empty")
            if button.kind == "url":
                button = InlineButton(button.text, "url", _checked_url(button.value))
            checked.append(button)
        rows.append(tuple(checked))
    return InlineKeyboard(tuple(rows))


def _checked_url(url: str) -> str:
    try:
        return check_link(url)
    except LinkError as error:
        raise bad_request(f"inline keyboard button URL '{url}' is invalid: {error}") from error


def check_callback_data(keyboard: InlineKeyboard) -> None:
    """Telegram's servers refuse callback_data over 64 bytes (TDLib and the Bot API do not)."""
    for button in keyboard.buttons():
        if button.kind == "callback_data" and len(button.value.encode()) > MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")


def check_pay_buttons(markup: ReplyMarkup | None, *, invoice: bool) -> None:
    """Telegram's servers: an invoice's keyboard, if given, starts with its Pay button, and no
    other message may carry one (``REPLY_MARKUP_BUY_EMPTY``, ``BUTTON_TYPE_INVALID``)."""
    keyboard = markup.inline if markup is not None else None
    if invoice:
        if markup is not None and (keyboard is None or keyboard.rows[0][0].kind != "pay"):
            raise bad_request("REPLY_MARKUP_BUY_EMPTY")
    elif keyboard is not None and any(button.kind == "pay" for button in keyboard.buttons()):
        raise bad_request("BUTTON_TYPE_INVALID")
